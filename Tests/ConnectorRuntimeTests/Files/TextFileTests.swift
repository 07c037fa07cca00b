import ConnectorRuntime
import Foundation
import TestSupport
import Testing

@Suite("Text files the CLI is pointed at")
struct TextFileTests {
    let folder: URL

    init() throws { folder = try TemporaryPaths.folder("capi-textfile") }

    func write(_ bytes: [UInt8], as name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func problem(_ path: String, byteLimit: Int = 1 << 20) -> TextFile.Problem? {
        do {
            _ = try TextFile.read(path: path, byteLimit: byteLimit)
            return nil
        } catch {
            return error
        }
    }

    @Test("UTF-8 text is read as it is")
    func readsText() throws {
        let path = try write(Array("id: café\n".utf8), as: "ok.yaml")
        #expect(try TextFile.read(path: path) == "id: café\n")
    }

    @Test("a stray byte is placed by line and column, counted in characters")
    func placesTheFirstBadByte() throws {
        // Line 2 is "é!" then 0xFF: the bad byte is the third character of line 2.
        let path = try write(Array("a\n".utf8) + [0xC3, 0xA9, 0x21, 0xFF, 0x0A], as: "bad.yaml")
        #expect(problem(path) == TextFile.Problem(reason: "it is not UTF-8 text (the first byte that is not is here)", line: 2, column: 3))
        let cut = try write(Array("ab".utf8) + [0xC3], as: "cut.yaml")
        #expect(problem(cut)?.column == 3)
    }

    @Test("no file, a folder, a device and a file over the limit each say so")
    func refusals() throws {
        #expect(problem(folder.appendingPathComponent("missing.yaml").path)?.reason == "no such file")
        #expect(problem(folder.path)?.reason == "it is a directory")
        #expect(problem("/dev/null")?.reason == "it is not a regular file")
        let big = try write(Array(repeating: 0x61, count: 2_000), as: "big.yaml")
        #expect(problem(big, byteLimit: 1_000)?.reason == "it is larger than 1000 bytes")
    }
}
