import Foundation
import NIOCore
import NIOHTTP1

/// One open watch connection: events are written as newline-delimited JSON in HTTP
/// chunks, in the order the double recorded them (every write goes through the
/// channel's event loop, in submission order).
final class Watcher: @unchecked Sendable {
    let channel: Channel
    let request: WatchRequest
    private var timers: [Scheduled<Void>] = []
    /// Set on the event loop once the final chunk is written: a bookmark or event that
    /// was queued behind it is dropped (NIO refuses a body part after the end).
    private var finished = false

    init(channel: Channel, request: WatchRequest) {
        self.channel = channel
        self.request = request
    }

    /// Writes the event if this watch's kind and selector want it. Called with the
    /// double's state locked, so events keep their order.
    func offer(_ event: APIServerDouble.Event) {
        guard event.kind == request.kind.kind, request.selector.matches(event.object) else { return }
        write(["type": event.type, "object": event.object])
    }

    func write(_ event: [String: Any]) {
        var line = try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])
        line.append(UInt8(ascii: "\n"))
        let channel = channel
        let buffer = channel.allocator.buffer(bytes: line)
        channel.eventLoop.execute {
            guard !self.finished else { return }
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
    }

    /// Ends the stream cleanly (final chunk), as the server does at `timeoutSeconds`.
    func finish() {
        let channel = channel
        channel.eventLoop.execute {
            guard !self.finished else { return }
            self.finished = true
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Drops the connection without a final chunk.
    func cut() {
        let channel = channel
        channel.eventLoop.execute {
            self.finished = true
            channel.close(promise: nil)
        }
    }

    func cancelTimers() {
        channel.eventLoop.execute { for timer in self.timers { timer.cancel() } }
    }

    func schedule(_ timer: Scheduled<Void>) { timers.append(timer) }
}

extension APIServerDouble {
    /// Starts a watch on `channel`: the response head, the backlog (every current object
    /// as ADDED for a watch without version; else the history after the version; 410
    /// Gone as an ERROR event for a compacted version), then live events, bookmarks and
    /// the server-side timeout.
    func openWatch(_ request: WatchRequest, channel: Channel) {
        let watcher = Watcher(channel: channel, request: request)
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Transfer-Encoding", value: "chunked")
        channel.eventLoop.execute { channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil) }
        let id: Int? = state.withLockedValue { state in
            if let version = request.version, version < state.oldestWatchable - 1 {
                watcher.write([
                    "type": "ERROR",
                    "object": Self.status(410, "too old resource version: \(version) (\(state.oldestWatchable - 1))", reason: "Expired"),
                ])
                return nil
            }
            if let version = request.version {
                for event in state.history where event.version > version { watcher.offer(event) }
            } else {
                for (_, object) in (state.objects[request.kind.kind] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    watcher.offer(Event(version: 0, type: "ADDED", kind: request.kind.kind, object: object))
                }
            }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = watcher
            return id
        }
        guard let id else {
            watcher.finish()
            return
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLockedValue { $0.watchers.removeValue(forKey: id) }
            watcher.cancelTimers()
        }
        let kind = request.kind
        channel.eventLoop.execute {
            if request.bookmarks {
                let interval = TimeAmount.nanoseconds(Int64(self.bookmarkInterval.components.seconds) * 1_000_000_000 + self.bookmarkInterval.components.attoseconds / 1_000_000_000)
                let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    let version = self.resourceVersion
                    watcher.write([
                        "type": "BOOKMARK",
                        "object": ["kind": kind.kind, "apiVersion": kind.apiVersion, "metadata": ["resourceVersion": String(version)]],
                    ])
                }
                channel.closeFuture.whenComplete { _ in task.cancel() }
            }
            if let timeout = request.timeout {
                watcher.schedule(
                    channel.eventLoop.scheduleTask(in: .seconds(timeout.components.seconds)) {
                        _ = self.state.withLockedValue { $0.watchers.removeValue(forKey: id) }
                        watcher.finish()
                    })
            }
        }
    }
}
