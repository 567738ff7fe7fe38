import PosStorage
import Synchronization

/// The attempts the outbox worker has recorded, and a way to wait for the next ones.
final class AttemptEvents: Sendable {
    private struct Waiter {
        let matches: @Sendable (RecordedAttempt) -> Bool
        let continuation: CheckedContinuation<RecordedAttempt?, Never>
    }

    private let state = Mutex<(seen: [RecordedAttempt], waiters: [Int: Waiter], nextId: Int)>(([], [:], 0))

    func record(_ attempt: RecordedAttempt) {
        let ready = state.withLock { state -> [CheckedContinuation<RecordedAttempt?, Never>] in
            state.seen.append(attempt)
            let matched = state.waiters.filter { $0.value.matches(attempt) }
            for id in matched.keys { state.waiters.removeValue(forKey: id) }
            return matched.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: attempt) }
    }

    var seen: [RecordedAttempt] { state.withLock { $0.seen } }

    /// The first recorded attempt (already seen or still to come) matching `matches`; nil after
    /// `timeoutSeconds`, or at once when the waiting task is cancelled.
    func first(timeoutSeconds: Double = 10, where matches: @escaping @Sendable (RecordedAttempt) -> Bool) async -> RecordedAttempt? {
        let id = state.withLock { state -> Int in
            state.nextId += 1
            return state.nextId
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting: Bool = state.withLock { state in
                    if state.seen.contains(where: matches) || Task.isCancelled { return false }
                    state.waiters[id] = Waiter(matches: matches, continuation: continuation)
                    return true
                }
                guard waiting else {
                    continuation.resume(returning: seen.first(where: matches))
                    return
                }
                Task {
                    try? await Task.sleep(for: .seconds(timeoutSeconds))
                    self.giveUp(id)
                }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    private func giveUp(_ id: Int) {
        let expired = state.withLock { $0.waiters.removeValue(forKey: id) }
        expired?.continuation.resume(returning: nil)
    }

    /// Waits for `count` attempts of different deliveries matching `matches`; fewer after a timeout.
    func attempts(ofDifferentDeliveries count: Int, timeoutSeconds: Double = 10,
                  where matches: @escaping @Sendable (RecordedAttempt) -> Bool) async -> [RecordedAttempt] {
        var found: [RecordedAttempt] = []
        for _ in 0..<count {
            let known = Set(found.map(\.attempt.deliveryId))
            guard let next = await first(timeoutSeconds: timeoutSeconds, where: { matches($0) && !known.contains($0.attempt.deliveryId) }) else { break }
            found.append(next)
        }
        return found
    }
}
