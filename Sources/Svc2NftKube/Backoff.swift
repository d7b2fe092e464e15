/// Capped exponential backoff with jitter, as client-go's reflector waits between
/// failed lists and watches (0.8 s doubling to 30 s), so a restarting API server is
/// not hit by every node at the same moment.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    private var next: Duration

    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
        next = initial
    }

    /// The wait before the next attempt: the current step with up to 10% jitter; the
    /// step doubles up to `maximum`.
    public mutating func delay() -> Duration {
        let step = next
        next = min(next * 2, maximum)
        return step + step * Double.random(in: 0..<0.1)
    }

    /// After a success: start again from `initial`.
    public mutating func reset() { next = initial }
}
