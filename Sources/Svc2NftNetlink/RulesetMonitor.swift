import CNftnl
import Foundation
import Svc2NftCore

/// One committed nf_tables transaction by someone else that touched our tables: who
/// committed it (as the kernel names it) and what it did, in a few words.
public struct ForeignChange: Sendable, Equatable, CustomStringConvertible {
    /// The ruleset generation the transaction created (`NFTA_GEN_ID`); nil when
    /// notifications were lost.
    public let generation: UInt32?
    /// The committing thread's PID and command name (`NFTA_GEN_PROC_PID`, `_NAME`); nil
    /// when the kernel did not say or notifications were lost.
    public let pid: Int32?
    public let process: String?
    /// Such as "table ip svc2nft deleted" or "3 rules deleted in chain services".
    public let summary: String

    public init(generation: UInt32?, pid: Int32?, process: String?, summary: String) {
        self.generation = generation
        self.pid = pid
        self.process = process
        self.summary = summary
    }

    public var description: String {
        let who = process ?? "an unknown process"
        return "foreign change by \(who)\(pid.map { " (pid \($0))" } ?? ""): \(summary)"
    }
}

/// Listens to nftables' change notifications (the `NFNLGRP_NFTABLES` multicast group,
/// in the current network namespace) and reports each committed transaction that
/// touched one of `tables` and was not sent by this process.
///
/// The kernel multicasts, for every commit, one message per object added or deleted,
/// then `NFT_MSG_NEWGEN` naming the new generation and the committing thread (PID and
/// command name). So a transaction's messages are collected until its NEWGEN, and
/// judged then. Our own commits are recognised by the sending socket's netlink port id
/// (every notification carries it as `nlmsg_pid`) or, failing that, by the PID being one
/// of this process's threads (the kernel reports the thread, not the process).
///
/// When the receive buffer overflows (ENOBUFS: a burst of notifications larger than
/// the buffer, such as a full install of a large cluster), what was lost cannot be
/// judged, so a change with an unknown author is reported; a repair that finds nothing
/// to do commits nothing, so this cannot loop.
public final class RulesetMonitor: @unchecked Sendable {
    private let socket: OpaquePointer
    private let tables: [(TableFamily, String)]
    private let ownPorts: Set<UInt32>
    private let lock = NSLock()
    private var stopped = false
    private var thread: Thread?

    /// Opens the socket and joins the group; throws `.socket` when the kernel refuses
    /// (no nf_tables, no CAP_NET_ADMIN). `ownPorts`: netlink port ids whose commits are ours.
    public init(tables: [(TableFamily, String)], ownPorts: Set<UInt32> = []) throws(ApplyError) {
        guard let socket = mnl_socket_open(NETLINK_NETFILTER) else { throw .socket(operation: "monitor open", errno: errno) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw .socket(operation: "monitor bind", errno: code)
        }
        var group = Int32(NFNLGRP_NFTABLES.rawValue)
        guard mnl_socket_setsockopt(socket, Int32(NETLINK_ADD_MEMBERSHIP), &group, socklen_t(MemoryLayout<Int32>.size)) >= 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw .socket(operation: "monitor join NFNLGRP_NFTABLES", errno: code)
        }
        // Our own full installs notify one message per object: 1,000 Services send
        // about 10,000. A large buffer keeps those from overflowing it.
        let fd = mnl_socket_get_fd(socket)
        var size = Int32(64 * 1024 * 1024)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) < 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        self.socket = socket
        self.tables = tables
        self.ownPorts = ownPorts
    }

    deinit { mnl_socket_close(socket) }

    /// Reads notifications on a thread of its own until `stop()`, calling `report` for
    /// each foreign transaction that touched our tables.
    public func start(_ report: @escaping @Sendable (ForeignChange) -> Void) {
        let thread = Thread { [self] in self.read(report) }
        thread.name = "svc2nft.monitor"
        lock.withLock { self.thread = thread }
        thread.start()
    }

    /// Ends the reading thread within its poll interval (100 ms).
    public func stop() {
        lock.withLock { stopped = true }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func read(_ report: @escaping @Sendable (ForeignChange) -> Void) {
        let fd = mnl_socket_get_fd(socket)
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        var reader = NotificationReader(tables: tables, ownPorts: ownPorts)
        while !isStopped {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0, errno != EINTR { return }
            guard ready > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 {
                if errno == ENOBUFS {
                    reader = NotificationReader(tables: tables, ownPorts: ownPorts)
                    report(ForeignChange(generation: nil, pid: nil, process: nil, summary: "notifications lost (receive buffer overflowed)"))
                }
                continue
            }
            for change in buffer.withUnsafeBytes({ reader.read(UnsafeRawBufferPointer(rebasing: $0[..<count])) }) { report(change) }
        }
    }
}

extension RulesetMonitor {
    /// A monitor of `tables` that takes `applier`'s commits for its own (by its socket's
    /// netlink port), so only other processes' changes are reported.
    public convenience init(tables: [(TableFamily, String)], ignoringCommitsOf applier: Applier) throws(ApplyError) {
        try self.init(tables: tables, ownPorts: Set([applier.portID].compactMap { $0 }))
    }
}

/// Reads nftables notifications, message by message across receives, into the foreign
/// changes they add up to (see `RulesetMonitor`); apart from the socket so tests can
/// feed it bytes.
public struct NotificationReader {
    private let tables: Set<Key>
    private let ownPorts: Set<UInt32>
    private var transaction = Transaction()

    struct Key: Hashable {
        let family: UInt8
        let name: String
    }

    public init(tables: [(TableFamily, String)], ownPorts: Set<UInt32>) {
        self.tables = Set(tables.map { Key(family: UInt8(K.family($0.0)), name: $0.1) })
        self.ownPorts = ownPorts
    }

    /// The changes completed by the whole netlink messages in `bytes`.
    public mutating func read(_ bytes: UnsafeRawBufferPointer) -> [ForeignChange] {
        var changes: [ForeignChange] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let header = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
            let length = Int(header.pointee.nlmsg_len)
            guard length >= 16, offset + length <= bytes.count else { break }
            if let change = transaction.add(header, tables: tables, ownPorts: ownPorts) { changes.append(change) }
            offset += (length + 3) & ~3
        }
        return changes
    }

    /// The notifications of one transaction so far.
    struct Transaction {
        /// What happened to our objects, counted: ("rule", "deleted", "in chain services").
        private var counts: [Event: Int] = [:]
        private var order: [Event] = []

        struct Event: Hashable {
            /// table, chain, set: one event per object; rule, element: counted per place.
            let noun: String
            let verb: String
            /// The table ("ip svc2nft"), chain or set name; "in chain X" for rules, "in X" for elements.
            let place: String

            func text(_ count: Int) -> String {
                switch noun {
                case "table", "chain", "set": "\(noun) \(place) \(verb)"
                default: "\(count) \(noun)\(count == 1 ? "" : "s") \(verb) \(place)"
                }
            }
        }

        /// Adds one message; at NEWGEN returns the transaction's change if it is foreign
        /// and touched our tables, and starts the next transaction.
        mutating func add(_ header: UnsafePointer<nlmsghdr>, tables: Set<Key>, ownPorts: Set<UInt32>) -> ForeignChange? {
            let type = header.pointee.nlmsg_type
            guard type >> 8 == UInt16(NFNL_SUBSYS_NFTABLES) else { return nil }
            let message = UInt32(type & 0xff)
            if message == NFT_MSG_NEWGEN.rawValue {
                defer { self = Transaction() }
                guard !counts.isEmpty else { return nil }
                let (generation, pid, process) = Self.generation(header)
                if ownPorts.contains(header.pointee.nlmsg_pid) || pid.map(Self.isOwnThread) ?? false { return nil }
                return ForeignChange(generation: generation, pid: pid, process: process, summary: summary)
            }
            // nfgenmsg's first byte, after the 16-byte header: the table's family.
            guard header.pointee.nlmsg_len >= 20 else { return nil }
            let family = UnsafeRawPointer(header).load(fromByteOffset: 16, as: UInt8.self)
            guard let (table, event, count) = Self.parse(header, message: message) else { return nil }
            guard tables.contains(Key(family: family, name: table)) else { return nil }
            let familyName = family == 2 ? "ip" : "ip6"
            let named = event.noun == "table" ? Event(noun: "table", verb: event.verb, place: "\(familyName) \(table)") : event
            if counts[named] == nil { order.append(named) }
            counts[named, default: 0] += count
            return nil
        }

        /// A few words: deleted tables say it all (their chains, rules and sets went
        /// with them); otherwise the first three kinds of change, and how many more.
        var summary: String {
            let tables = order.filter { $0.noun == "table" && $0.verb == "deleted" }.map(\.place)
            if !tables.isEmpty {
                return "table\(tables.count == 1 ? "" : "s") \(tables.joined(separator: ", ")) deleted"
            }
            let parts = order.prefix(3).map { $0.text(counts[$0]!) }
            let more = order.count - parts.count
            return parts.joined(separator: ", ") + (more > 0 ? " and \(more) more" : "")
        }

        /// The table a message names, what it did, and to how many objects; nil for
        /// messages about nothing we keep (objects, flowtables) or that fail to parse.
        private static func parse(_ header: UnsafePointer<nlmsghdr>, message: UInt32) -> (String, Event, Int)? {
            let verb: String
            switch message {
            case NFT_MSG_NEWTABLE.rawValue, NFT_MSG_NEWCHAIN.rawValue, NFT_MSG_NEWRULE.rawValue, NFT_MSG_NEWSET.rawValue,
                NFT_MSG_NEWSETELEM.rawValue:
                verb = "added"
            case NFT_MSG_DELTABLE.rawValue, NFT_MSG_DELCHAIN.rawValue, NFT_MSG_DELRULE.rawValue, NFT_MSG_DELSET.rawValue,
                NFT_MSG_DELSETELEM.rawValue:
                verb = "deleted"
            default:
                return nil
            }
            func str(_ value: UnsafePointer<CChar>?) -> String? { value.map { String(cString: $0) } }
            switch message {
            case NFT_MSG_NEWTABLE.rawValue, NFT_MSG_DELTABLE.rawValue:
                guard let table = nftnl_table_alloc() else { return nil }
                defer { nftnl_table_free(table) }
                guard nftnl_table_nlmsg_parse(header, table) >= 0, let name = str(nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue)))
                else { return nil }
                return (name, Event(noun: "table", verb: verb, place: ""), 1)
            case NFT_MSG_NEWCHAIN.rawValue, NFT_MSG_DELCHAIN.rawValue:
                guard let chain = nftnl_chain_alloc() else { return nil }
                defer { nftnl_chain_free(chain) }
                guard nftnl_chain_nlmsg_parse(header, chain) >= 0,
                    let table = str(nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue))),
                    let name = str(nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue)))
                else { return nil }
                // A chain's attributes changed (NEWCHAIN for an existing chain) reads as "added" too.
                return (table, Event(noun: "chain", verb: verb, place: name), 1)
            // Rules and elements are nearly all of a large install's notifications (370,000
            // at 10,000 Services): libnftnl's parsers allocate every expression and element,
            // and the reader fell behind until the socket overflowed. Only the table and
            // chain or set names are needed, so those two attributes are read with libmnl.
            case NFT_MSG_NEWRULE.rawValue, NFT_MSG_DELRULE.rawValue:
                let names = Self.names(header)  // NFTA_RULE_TABLE, NFTA_RULE_CHAIN
                guard let table = names.table, let chain = names.second else { return nil }
                return (table, Event(noun: "rule", verb: verb, place: "in chain \(chain)"), 1)
            case NFT_MSG_NEWSET.rawValue, NFT_MSG_DELSET.rawValue:
                guard let set = nftnl_set_alloc() else { return nil }
                defer { nftnl_set_free(set) }
                guard nftnl_set_nlmsg_parse(header, set) >= 0,
                    let table = str(nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue))),
                    let name = str(nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)))
                else { return nil }
                return (table, Event(noun: "set", verb: verb, place: name), 1)
            default:  // NEWSETELEM, DELSETELEM
                let names = Self.names(header)  // NFTA_SET_ELEM_LIST_TABLE, _SET, _ELEMENTS
                guard let table = names.table, let name = names.second else { return nil }
                return (table, Event(noun: "element", verb: verb, place: "in \(name)"), max(names.nested, 1))
            }
        }

        /// Attributes 1 and 2 as strings (the table, then the chain or set, in rule and
        /// element messages), and how many attributes attribute 3 nests (the elements).
        private static func names(_ header: UnsafePointer<nlmsghdr>) -> (table: String?, second: String?, nested: Int) {
            var table: String? = nil
            var second: String? = nil
            var nested = 0
            let end = UnsafeRawPointer(header) + Int(header.pointee.nlmsg_len)
            guard var attribute = mnl_nlmsg_get_payload_offset(header, 4).map({ UnsafeMutablePointer<nlattr>(OpaquePointer($0)) })
            else { return (nil, nil, 0) }
            while mnl_attr_ok(attribute, Int32(end - UnsafeRawPointer(attribute))) {
                switch mnl_attr_get_type(attribute) {
                case 1: table = mnl_attr_get_str(attribute).map { String(cString: $0) }
                case 2: second = mnl_attr_get_str(attribute).map { String(cString: $0) }
                case 3:
                    let payload = UnsafeRawPointer(mnl_attr_get_payload(attribute)!)
                    let nestEnd = payload + Int(mnl_attr_get_payload_len(attribute))
                    var inner = UnsafeMutablePointer<nlattr>(OpaquePointer(payload))
                    while mnl_attr_ok(inner, Int32(nestEnd - UnsafeRawPointer(inner))) {
                        nested += 1
                        inner = mnl_attr_next(inner)
                    }
                default: break
                }
                attribute = mnl_attr_next(attribute)
            }
            return (table, second, nested)
        }

        /// NEWGEN's generation, PID and command name. libnftnl (1.2.4) parses only the
        /// generation, so the PID and name (kernel 4.20+) are read with libmnl's attribute walk.
        private static func generation(_ header: UnsafePointer<nlmsghdr>) -> (UInt32?, Int32?, String?) {
            var generation: UInt32? = nil
            var pid: Int32? = nil
            var process: String? = nil
            let end = UnsafeRawPointer(header) + Int(header.pointee.nlmsg_len)
            // The attributes follow the 16-byte header and the 4-byte nfgenmsg.
            guard var attribute = mnl_nlmsg_get_payload_offset(header, 4).map({ UnsafeMutablePointer<nlattr>(OpaquePointer($0)) })
            else { return (nil, nil, nil) }
            while mnl_attr_ok(attribute, Int32(end - UnsafeRawPointer(attribute))) {
                switch Int(mnl_attr_get_type(attribute)) {
                case Int(NFTA_GEN_ID.rawValue): generation = UInt32(bigEndian: mnl_attr_get_u32(attribute))
                case Int(NFTA_GEN_PROC_PID.rawValue): pid = Int32(bitPattern: UInt32(bigEndian: mnl_attr_get_u32(attribute)))
                case Int(NFTA_GEN_PROC_NAME.rawValue): process = mnl_attr_get_str(attribute).map { String(cString: $0) }
                default: break
                }
                attribute = mnl_attr_next(attribute)
            }
            return (generation, pid, process)
        }

        /// Whether `pid` is this process or one of its threads (syncs run on their own thread).
        static func isOwnThread(_ pid: Int32) -> Bool {
            pid == getpid() || access("/proc/self/task/\(pid)", F_OK) == 0
        }
    }
}
