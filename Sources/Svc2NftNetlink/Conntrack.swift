import CNftnl
import Glibc
import Svc2NftCore

/// One conntrack entry, as the cleanup reads it: the original direction's destination
/// and the reply direction's source (the DNAT target, or the destination itself when
/// the entry was not DNATed).
public struct ConntrackEntry: Sendable, Hashable {
    /// IANA protocol number (17 UDP, 132 SCTP).
    public let protocolNumber: UInt8
    public let source: IPAddress
    public let sourcePort: UInt16
    public let destination: IPAddress
    public let destinationPort: UInt16
    public let replySource: IPAddress
    public let replySourcePort: UInt16

    public init(
        protocolNumber: UInt8, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
        replySource: IPAddress, replySourcePort: UInt16
    ) {
        self.protocolNumber = protocolNumber
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.replySource = replySource
        self.replySourcePort = replySourcePort
    }

    public var l4Protocol: L4Protocol? { L4Protocol.allCases.first { $0.number == protocolNumber } }
}

/// A ctnetlink request failed.
public enum ConntrackError: Error, Equatable, CustomStringConvertible {
    case open(errno: Int32)
    case dump(errno: Int32)
    /// The kernel refused a filtered dump (before Linux 5.8: EOPNOTSUPP or EINVAL).
    case dumpFilter(errno: Int32)
    case create(errno: Int32)

    /// Any dump failure, as `.dump`.
    var asDump: ConntrackError {
        if case .dumpFilter(let e) = self { return .dump(errno: e) }
        return self
    }

    public var description: String {
        switch self {
        case .open(let e):
            "cannot open a ctnetlink socket: \(String(cString: strerror(e))) (needs CAP_NET_ADMIN and the nf_conntrack_netlink module)"
        case .dump(let e), .dumpFilter(let e): "reading the conntrack table failed: \(String(cString: strerror(e)))"
        case .create(let e): "creating a conntrack entry failed: \(String(cString: strerror(e)))"
        }
    }
}

/// A libnetfilter_conntrack object (`nf_conntrack`), freed in `deinit`.
struct ConntrackObject: ~Copyable {
    let pointer: OpaquePointer

    init?(cloning pointer: OpaquePointer) {
        guard let clone = nfct_clone(pointer) else { return nil }
        self.pointer = clone
    }

    init?() {
        guard let object = nfct_new() else { return nil }
        pointer = object
    }

    deinit { nfct_destroy(pointer) }
}

/// The entries a dump selected for deletion: cloned objects, freed together in `deinit`
/// (an array cannot hold `~Copyable` values), and how many entries the dump read.
struct SelectedEntries: ~Copyable {
    fileprivate(set) var pointers: [OpaquePointer] = []
    fileprivate(set) var read = 0
    deinit { for pointer in pointers { nfct_destroy(pointer) } }
}

/// What a dump's callback fills in: entries read, and clones of those selected.
final class DumpContext {
    let select: (ConntrackEntry) -> Bool
    var read = 0
    var selected: [OpaquePointer] = []
    init(select: @escaping (ConntrackEntry) -> Bool) { self.select = select }
}

/// A ctnetlink handle (`nfct_handle`) of the calling thread's network namespace,
/// closed in `deinit`. Requests are synchronous; a dump must end before the next.
public struct ConntrackTable: ~Copyable {
    let handle: OpaquePointer

    public init() throws(ConntrackError) {
        guard let handle = nfct_open(UInt8(CONNTRACK), 0) else { throw .open(errno: errno) }
        self.handle = handle
    }

    deinit { nfct_close(handle) }

    /// ctnetlink's dump filter flag "match the protocol number" (`CTA_FILTER_F_CTA_PROTO_NUM`):
    /// kernel ABI since Linux 5.8, defined in net/netfilter/nf_internals.h and not in the
    /// uapi headers, so it is spelled out here.
    static let filterProtocolNumber: UInt32 = 1 << 3

    /// Reads the entries of each family and protocol of `kinds`, filtered in the kernel:
    /// one dump per pair (ctnetlink filters by protocol only within one family), so
    /// other entries, usually most of the table (TCP), never reach us. Each dump walks
    /// the kernel's whole hash table, so only pairs that have Service frontends are
    /// asked for (a cluster with IPv4 UDP Services: one dump). Keeps the entries
    /// `select` accepts. libnetfilter_conntrack 1.0.9 has no protocol filter, so the
    /// request is built with libmnl and each entry parsed by libnetfilter_conntrack. On
    /// a kernel without dump filters (before 5.8), reads the whole table instead.
    func dump(_ kinds: [(family: IPFamily, protocol: UInt8)], select: @escaping (ConntrackEntry) -> Bool) throws(ConntrackError)
        -> SelectedEntries
    {
        do {
            return try filteredDump(kinds, select: select)
        } catch .dumpFilter(let code) where code == EOPNOTSUPP || code == EINVAL {
            return try dump { entry in
                kinds.contains { $0.family == entry.destination.family && $0.protocol == entry.protocolNumber } && select(entry)
            }
        } catch {
            throw error.asDump
        }
    }

    private func filteredDump(_ kinds: [(family: IPFamily, protocol: UInt8)], select: @escaping (ConntrackEntry) -> Bool)
        throws(ConntrackError)
        -> SelectedEntries
    {
        guard let socket = mnl_socket_open(NETLINK_NETFILTER) else { throw .dump(errno: errno) }
        defer { mnl_socket_close(socket) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else { throw .dump(errno: errno) }
        let portID = mnl_socket_get_portid(socket)
        let context = DumpContext(select: select)
        do {
            try filteredDump(socket: socket, portID: portID, kinds, context: Unmanaged.passUnretained(context).toOpaque())
        } catch {
            for pointer in context.selected { nfct_destroy(pointer) }
            throw error
        }
        var selected = SelectedEntries()
        selected.pointers = context.selected
        selected.read = context.read
        withExtendedLifetime(context) {}
        return selected
    }

    /// The filtered dumps' requests and replies; `context` is the caller's `DumpContext`.
    private func filteredDump(
        socket: OpaquePointer, portID: UInt32, _ kinds: [(family: IPFamily, protocol: UInt8)], context: UnsafeMutableRawPointer
    )
        throws(ConntrackError)
    {
        // Dumps come in skbs of up to 32 KiB (netlink's dump allocation); room for more.
        var receive = [UInt8](repeating: 0, count: 1 << 17)
        var request = [UInt8](repeating: 0, count: 256)
        var sequence = UInt32(truncatingIfNeeded: time(nil))
        for (ipFamily, proto) in kinds {
            let family = ipFamily == .v4 ? AF_INET : AF_INET6
            sequence &+= 1
            let length = request.withUnsafeMutableBytes { raw -> Int in
                let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
                nlh.pointee.nlmsg_type = UInt16((NFNL_SUBSYS_CTNETLINK << 8) | Int32(IPCTNL_MSG_CT_GET.rawValue))
                nlh.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
                nlh.pointee.nlmsg_seq = sequence
                let header = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size)!.assumingMemoryBound(to: nfgenmsg.self)
                header.pointee.nfgen_family = UInt8(family)
                header.pointee.version = UInt8(NFNETLINK_V0)
                header.pointee.res_id = 0
                let tuple = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_ORIG.rawValue))
                let protoNest = mnl_attr_nest_start(nlh, UInt16(CTA_TUPLE_PROTO.rawValue))
                mnl_attr_put_u8(nlh, UInt16(CTA_PROTO_NUM.rawValue), proto)
                mnl_attr_nest_end(nlh, protoNest)
                mnl_attr_nest_end(nlh, tuple)
                let filter = mnl_attr_nest_start(nlh, UInt16(CTA_FILTER.rawValue))
                mnl_attr_put_u32(nlh, UInt16(CTA_FILTER_ORIG_FLAGS.rawValue), Self.filterProtocolNumber)
                mnl_attr_put_u32(nlh, UInt16(CTA_FILTER_REPLY_FLAGS.rawValue), 0)
                mnl_attr_nest_end(nlh, filter)
                return Int(nlh.pointee.nlmsg_len)
            }
            guard mnl_socket_sendto(socket, request, length) >= 0 else { throw .dump(errno: errno) }
            while true {
                let count = mnl_socket_recvfrom(socket, &receive, receive.count)
                guard count >= 0 else { throw .dump(errno: errno) }
                let status = mnl_cb_run(
                    receive, count, sequence, portID,
                    { nlh, data in
                        guard let nlh, let data, let ct = nfct_new() else { return MNL_CB_OK }
                        let context = Unmanaged<DumpContext>.fromOpaque(data).takeUnretainedValue()
                        // A fresh object per entry: nfct_nlmsg_parse sets only the
                        // attributes a message has, and a deletion must not carry
                        // another entry's (a zone, say).
                        guard nfct_nlmsg_parse(nlh, ct) >= 0 else {
                            nfct_destroy(ct)
                            return MNL_CB_ERROR
                        }
                        context.read += 1
                        if let entry = ConntrackTable.entry(ct), context.select(entry) {
                            context.selected.append(ct)
                        } else {
                            nfct_destroy(ct)
                        }
                        return MNL_CB_OK
                    }, context)
                if status == MNL_CB_STOP { break }
                if status < 0 { throw .dumpFilter(errno: errno) }
            }
        }
    }

    /// Reads the whole table (both families) in one dump and keeps the entries `select`
    /// accepts: the fallback for kernels without dump filters.
    func dump(select: @escaping (ConntrackEntry) -> Bool) throws(ConntrackError) -> SelectedEntries {
        let context = DumpContext(select: select)
        let registered = nfct_callback_register(
            handle, NFCT_T_ALL,
            { _, ct, data in
                guard let ct, let data else { return Int32(NFCT_CB_CONTINUE) }
                let context = Unmanaged<DumpContext>.fromOpaque(data).takeUnretainedValue()
                context.read += 1
                if let entry = ConntrackTable.entry(ct), context.select(entry), let clone = nfct_clone(ct) {
                    context.selected.append(clone)
                }
                return Int32(NFCT_CB_CONTINUE)
            }, Unmanaged.passUnretained(context).toOpaque())
        var selected = SelectedEntries()
        guard registered == 0 else { throw .dump(errno: errno) }
        defer { nfct_callback_unregister(handle) }
        var family = UInt32(AF_UNSPEC)
        let status = withExtendedLifetime(context) { nfct_query(handle, NFCT_Q_DUMP, &family) }
        let failure = errno
        selected.pointers = context.selected
        selected.read = context.read
        guard status == 0 else { throw .dump(errno: failure) }
        return selected
    }

    /// Deletes each selected entry (one request each); returns how many went and the
    /// errno of each refusal. An entry that expired meanwhile (ENOENT) is not a failure.
    func delete(_ entries: borrowing SelectedEntries) -> (removed: Int, failures: [Int32]) {
        var removed = 0
        var failures: [Int32] = []
        for pointer in entries.pointers {
            if nfct_query(handle, NFCT_Q_DESTROY, UnsafeRawPointer(pointer)) == 0 {
                removed += 1
            } else if errno != ENOENT {
                failures.append(errno)
            }
        }
        return (removed, failures)
    }

    /// Adds an entry (for benchmarks and tests): `entry`'s original tuple, its reply
    /// tuple (reply source and port; reply destination the original source), timeout
    /// in seconds. SCTP is not supported here.
    public func create(_ entry: ConntrackEntry, timeout: UInt32 = 600) throws(ConntrackError) {
        guard let object = ConntrackObject() else { throw .create(errno: ENOMEM) }
        let ct = object.pointer
        let v4 = entry.source.family == .v4
        for attribute in [ATTR_ORIG_L3PROTO, ATTR_REPL_L3PROTO] { nfct_set_attr_u8(ct, attribute, UInt8(v4 ? AF_INET : AF_INET6)) }
        for attribute in [ATTR_ORIG_L4PROTO, ATTR_REPL_L4PROTO] { nfct_set_attr_u8(ct, attribute, entry.protocolNumber) }
        Self.set(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC, entry.source)
        Self.set(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST, entry.destination)
        Self.set(ct, v4 ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV6_SRC, entry.replySource)
        Self.set(ct, v4 ? ATTR_REPL_IPV4_DST : ATTR_REPL_IPV6_DST, entry.source)
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, entry.sourcePort.bigEndian)
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, entry.destinationPort.bigEndian)
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, entry.replySourcePort.bigEndian)
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, entry.sourcePort.bigEndian)
        nfct_set_attr_u32(ct, ATTR_TIMEOUT, timeout)
        guard nfct_query(handle, NFCT_Q_CREATE, UnsafeRawPointer(ct)) == 0 else { throw .create(errno: errno) }
    }

    static func set(_ ct: OpaquePointer, _ attribute: nf_conntrack_attr, _ address: IPAddress) {
        var bytes = address.bytes
        nfct_set_attr_l(ct, attribute, &bytes, bytes.count)
    }

    /// The fields the cleanup needs, or nil for an entry of another family.
    static func entry(_ ct: OpaquePointer) -> ConntrackEntry? {
        let family = Int32(nfct_get_attr_u8(ct, ATTR_L3PROTO))
        func address(_ v4: nf_conntrack_attr, _ v6: nf_conntrack_attr) -> IPAddress? {
            if family == AF_INET { return IPAddress(v4: UInt32(bigEndian: nfct_get_attr_u32(ct, v4))) }
            guard family == AF_INET6, let raw = nfct_get_attr(ct, v6) else { return nil }
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            var high: UInt64 = 0, low: UInt64 = 0
            for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
            return IPAddress(v6: high, low)
        }
        guard let source = address(ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC),
            let destination = address(ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST),
            let replySource = address(ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC)
        else { return nil }
        return ConntrackEntry(
            protocolNumber: nfct_get_attr_u8(ct, ATTR_L4PROTO), source: source,
            sourcePort: UInt16(bigEndian: nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC)), destination: destination,
            destinationPort: UInt16(bigEndian: nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)), replySource: replySource,
            replySourcePort: UInt16(bigEndian: nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC)))
    }
}
