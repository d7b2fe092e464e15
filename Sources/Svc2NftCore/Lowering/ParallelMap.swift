import Dispatch

extension Array where Element: Sendable {
    /// `map` over contiguous chunks on all cores, results in the original order, so
    /// output stays byte-identical to a sequential run. For pure transforms only.
    func orderedParallelMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let chunkCount = Swift.min(count, 4 * ProcessInfoLite.activeProcessorCount)
        guard chunkCount > 1, count >= 64 else { return map(transform) }
        let results = ChunkResults<T>(count: chunkCount)
        let items = self
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let start = items.count * chunk / chunkCount
            let end = items.count * (chunk + 1) / chunkCount
            results.store(chunk, items[start..<end].map(transform))
        }
        return results.joined()
    }
}

/// One slot per chunk, each written by exactly one task before `concurrentPerform`
/// returns, then read on the calling thread.
private final class ChunkResults<T>: @unchecked Sendable {
    private var slots: [[T]]
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func store(_ index: Int, _ values: [T]) { slots[index] = values }
    func joined() -> [T] { slots.flatMap { $0 } }
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
