import Dispatch

extension Array where Element: Sendable {
    /// `map` over contiguous chunks on all cores, results in the original order, so
    /// output stays byte-identical to a sequential run. For pure transforms only.
    func orderedParallelMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        guard count >= 64 else { return map(transform) }
        let items = self
        return Parallel.chunks(count) { _, range in items[range].map(transform) }.flatMap { $0 }
    }
}

/// Work split over all cores, for pure transforms whose results are used in order.
public enum Parallel {
    /// `body(chunk, range)` for contiguous ranges covering `0..<count` (`perCore` per core,
    /// numbered from 0), run on all cores; the results in range order. More chunks even
    /// out items of uneven cost.
    public static func chunks<T: Sendable>(
        _ count: Int, perCore: Int = 4, _ body: @Sendable (_ chunk: Int, _ range: Range<Int>) -> T
    ) -> [T] {
        let chunkCount = Swift.max(1, Swift.min(count, perCore * ProcessInfoLite.activeProcessorCount))
        guard chunkCount > 1 else { return [body(0, 0..<count)] }
        let results = ChunkResults<T>(count: chunkCount)
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            results.store(chunk, body(chunk, count * chunk / chunkCount..<count * (chunk + 1) / chunkCount))
        }
        return results.values
    }
}

extension Parallel {
    /// `first()` and `second()` at the same time, on two cores.
    public static func pair<A: Sendable, B: Sendable>(_ first: @Sendable () -> A, _ second: @Sendable () -> B) -> (A, B) {
        let a = ChunkResults<A>(count: 1), b = ChunkResults<B>(count: 1)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 { a.store(0, first()) } else { b.store(0, second()) }
        }
        return (a.values[0], b.values[0])
    }
}

/// One slot per chunk, each written by exactly one task before `concurrentPerform`
/// returns, then read on the calling thread.
private final class ChunkResults<T>: @unchecked Sendable {
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func store(_ index: Int, _ value: T) { slots[index] = value }
    var values: [T] { slots.map { $0! } }
}

/// The number of CPUs, without importing Foundation into the lowering code.
enum ProcessInfoLite {
    static let activeProcessorCount: Int = {
        #if canImport(Glibc)
            return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
            return 1
        #endif
    }()
}

#if canImport(Glibc)
    import Glibc
#endif
