import ConnectorRuntime
import Testing

@Suite("Startup gate")
struct StartupGateTests {
    @Test("waiters pass once it opens, and later waiters pass at once")
    func opens() async throws {
        let gate = StartupGate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await gate.wait() } }
            #expect(!gate.isOpen)
            gate.open()
            try await group.waitForAll()
        }
        try await gate.wait()
        #expect(gate.isOpen)
    }

    @Test("a cancelled waiter throws and the gate stays closed for the others")
    func cancellation() async throws {
        let gate = StartupGate()
        let waiter = Task { try await gate.wait() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(!gate.isOpen)
    }
}
