import ArgumentParser
import CAPICore
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Normalize and hash customer information: JSON lines in, JSON lines out.",
        discussion: """
            Each input line is {"field": "ph", "value": "090-1234-5678", "country": "jp"} ("country" is \
            optional). Each output line, in order, is {"field", "normalized", "hash"}; for keys Meta takes \
            unhashed "hash" is null; a value that is already a SHA-256 digest comes back as both; a value \
            that cannot be used gives {"field", "error"} with the reason (never the value). A line longer \
            than 1 MiB gets {"error"} and is skipped; a line of nothing but white space gets no answer; \
            a byte order mark before the first line is ignored, and input in UTF-16 or UTF-32 is refused \
            (exit 2). Input is read in large blocks and \
            answered on every core, output order kept.

            Example:
              echo '{"field":"em","value":"  John.Doe@Example.com "}' | capi-connector normalize
            """
    )

    @Option(help: ArgumentHelp("Country for national phone numbers and US rules when a line gives none (ISO alpha-2).", valueName: "code"))
    var defaultCountry: String?

    func validate() throws {
        if let defaultCountry, CountryCodes.alpha2(for: defaultCountry) == nil {
            throw ValidationError("--default-country must be an ISO 3166-1 country code such as `us`")
        }
    }

    /// Bytes read per round; what they hold is split at line ends and answered in parallel.
    static let blockBytes = 4 << 20

    func run() throws {
        let answerer = BlockAnswerer(
            normalizer: Normalizer(today: .utcNow()),
            defaultCountry: defaultCountry.flatMap(CountryCodes.alpha2(for:)),
            pieces: max(1, ProcessInfo.processInfo.activeProcessorCount) * 2,
            buffers: OutputBuffers()
        )
        let maxLine = NormalizationLine.maximumLineBytes
        // [0, filled): an unfinished line carried over, then what was read this round.
        var buffer = [UInt8](repeating: 0, count: maxLine + 1 + Self.blockBytes)
        var filled = 0
        // Inside a line already answered as too long: drop bytes until its end.
        var skipping = false
        // Until the first bytes are known: a byte order mark there (Windows tools write one) is no
        // part of the first line.
        var atStart = true
        // Output is written on its own thread while the next block is answered; at most two
        // blocks' answers wait, so memory stays bounded however fast the input comes.
        let writer = DispatchQueue(label: "capi.normalize.output")
        let waiting = DispatchSemaphore(value: 2)
        func emit(_ chunks: [[UInt8]]) {
            waiting.wait()
            writer.async {
                for var chunk in chunks { StandardStreams.writeAll(&chunk, to: STDOUT_FILENO) }
                answerer.buffers.giveBack(chunks)
                waiting.signal()
            }
        }
        defer { writer.sync {} }
        /// Keeps an unfinished line for the next round, or, once it is too long to answer, says so
        /// in its place and drops the rest of it.
        func carry(_ partial: Range<Int>) {
            if partial.count > maxLine {
                emit([Array((NormalizationLine.overlongLine + "\n").utf8)])
                skipping = true
                filled = 0
            } else {
                buffer.withUnsafeMutableBytes { raw in _ = memmove(raw.baseAddress!, raw.baseAddress! + partial.lowerBound, partial.count) }
                filled = partial.count
            }
        }
        while true {
            let count: Int
            do { count = try Self.readBlock(into: &buffer, at: filled) } catch {
                writer.sync {}
                StandardStreams.printError("capi-connector normalize: cannot read standard input (errno \(error.code))")
                throw ExitCode(1)
            }
            if count == 0 { break }
            var start = 0
            let end = filled + count
            if atStart {
                let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
                if end < mark.count, mark.starts(with: buffer[0..<end]) {
                    filled = end
                    continue
                }
                atStart = false
                if buffer[0..<end].starts(with: mark) { start = mark.count }
                // Each line would be garbage, and the answers would not line up with the input.
                if let encoding = JSONValue.wideEncoding(startingWith: buffer[0..<end]) {
                    StandardStreams.printError(
                        "capi-connector normalize: standard input is \(encoding); JSON lines are read as UTF-8: convert it first (iconv -f \(encoding) -t UTF-8)"
                    )
                    throw ExitCode(2)
                }
            }
            if skipping {
                guard let newline = buffer[filled..<end].firstIndex(of: UInt8(ascii: "\n")) else {
                    filled = 0
                    continue
                }
                skipping = false
                start = newline + 1
            }
            guard let lastNewline = buffer[start..<end].lastIndex(of: UInt8(ascii: "\n")) else {
                carry(start..<end)
                continue
            }
            emit(buffer.withUnsafeBytes { answerer.answer(UnsafeRawBufferPointer(rebasing: $0[start..<(lastNewline + 1)])) })
            carry((lastNewline + 1)..<end)
        }
        if filled > 0, !skipping {
            emit(buffer.withUnsafeBytes { answerer.answer(UnsafeRawBufferPointer(rebasing: $0[0..<filled])) })
        }
    }
}

extension NormalizeCommand {
    struct ReadFailure: Error {
        var code: Int32
    }

    /// Reads up to ``blockBytes`` into `buffer` after `offset`: as long as more input is ready at
    /// once (a file, a fast pipe), so blocks are large; no longer, so a producer that waits for
    /// each answer gets it. Returns 0 at the end of input.
    static func readBlock(into buffer: inout [UInt8], at offset: Int) throws(ReadFailure) -> Int {
        var total = 0
        while total < blockBytes {
            let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress! + offset + total, blockBytes - total) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadFailure(code: errno)
            }
            if count == 0 { break }
            total += count
            var ready = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 0) > 0, ready.revents & Int16(POLLIN) != 0 else { break }
        }
        return total
    }
}

/// Answers a run of whole lines on every core: the run is cut at line ends into `pieces`, each
/// answered into its own buffer; the buffers come back in input order.
struct BlockAnswerer: Sendable {
    let normalizer: Normalizer
    let defaultCountry: String?
    let pieces: Int
    /// Where each piece's answer is written; the writer gives the buffers back once written.
    let buffers: OutputBuffers

    func answer(_ lines: UnsafeRawBufferPointer) -> [[UInt8]] {
        // Small runs are not worth the hand-off.
        guard lines.count >= 256 * 1024, pieces > 1 else {
            var output = buffers.take(capacity: lines.count * OutputBuffers.expansion)
            NormalizationLine.respond(toLines: lines, normalizer: normalizer, defaultCountry: defaultCountry, into: &output)
            return [output]
        }
        var bounds = [0]
        for piece in 1..<pieces {
            var cut = lines.count * piece / pieces
            while cut < lines.count, lines[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
            if cut > bounds.last! { bounds.append(cut) }
        }
        if bounds.last! < lines.count { bounds.append(lines.count) }
        let ranges = zip(bounds, bounds.dropFirst()).map { $0..<$1 }
        let outputs = ParallelResults(count: ranges.count)
        nonisolated(unsafe) let lines = lines
        let normalizer = normalizer
        let defaultCountry = defaultCountry
        let buffers = buffers
        DispatchQueue.concurrentPerform(iterations: ranges.count) { index in
            var output = buffers.take(capacity: ranges[index].count * OutputBuffers.expansion)
            NormalizationLine.respond(
                toLines: UnsafeRawBufferPointer(rebasing: lines[ranges[index]]),
                normalizer: normalizer,
                defaultCountry: defaultCountry,
                into: &output
            )
            outputs.set(index, output)
        }
        return outputs.all
    }
}

/// One slot per parallel piece, each written by exactly one worker.
private final class ParallelResults: Sendable {
    private let slots: Mutex<[[UInt8]]>

    init(count: Int) { slots = Mutex(Array(repeating: [], count: count)) }

    func set(_ index: Int, _ value: [UInt8]) { slots.withLock { $0[index] = value } }

    var all: [[UInt8]] { slots.withLock { $0 } }
}

/// Output buffers reused from block to block. A fresh buffer costs the kernel a zeroed page for
/// every 4 KiB written into it (about 21,000 page faults for a million fields, a third of the
/// run's time when the machine was slow to hand out memory); a buffer given back keeps its
/// capacity. At most the blocks in flight hold buffers, so the pool stays that small.
final class OutputBuffers: Sendable {
    /// Output bytes per input byte to reserve at first: an answer with a hash is about three
    /// times its input line.
    static let expansion = 4

    private let free = Mutex<[[UInt8]]>([])

    /// An empty buffer with room for at least `capacity` bytes.
    func take(capacity: Int) -> [UInt8] {
        var buffer = free.withLock { $0.popLast() } ?? []
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(capacity)
        return buffer
    }

    func giveBack(_ buffers: [[UInt8]]) {
        free.withLock { $0.append(contentsOf: buffers) }
    }
}
