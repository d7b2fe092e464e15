import CNftnl
import Foundation
import Svc2NftCore

/// A libmnl netfilter socket. The kernel processes a batch inside `sendmsg`, so when it
/// returns every error is already queued; they are drained without waiting.
public final class MNLTransport: NetfilterTransport, NetfilterReader {
    private let socket: OpaquePointer

    public init() throws(ApplyError) {
        guard let socket = mnl_socket_open(NETLINK_NETFILTER) else { throw .socket(operation: "open", errno: errno) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw .socket(operation: "bind", errno: code)
        }
        self.socket = socket
    }

    deinit { mnl_socket_close(socket) }

    /// The socket's netlink port id: the kernel's change notifications for our commits carry it.
    public var portID: UInt32 { mnl_socket_get_portid(socket) }

    public func send(_ batch: FinalizedBatch) throws(ApplyError) -> [NetlinkAck] {
        let fd = mnl_socket_get_fd(socket)
        // The whole batch must fit the send buffer: one sendmsg, one skb. As root,
        // SO_SNDBUFFORCE lifts the rmem/wmem ceilings; otherwise the send fails with EPERM below.
        var size = Int32(min(batch.byteCount + 65536, Int(Int32.max)))
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) < 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var receive = Int32(4 * 1024 * 1024)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive, socklen_t(MemoryLayout<Int32>.size)) < 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive, socklen_t(MemoryLayout<Int32>.size))
        }

        var iov = batch.chunks.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        let sent: Int = withExtendedLifetime(batch) {
            iov.withUnsafeMutableBufferPointer { iov in
                var address = sockaddr_nl()
                address.nl_family = sa_family_t(AF_NETLINK)
                return withUnsafeMutablePointer(to: &address) { addressPointer in
                    var message = msghdr()
                    message.msg_name = UnsafeMutableRawPointer(addressPointer)
                    message.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                    message.msg_iov = iov.baseAddress
                    message.msg_iovlen = iov.count
                    return sendmsg(fd, &message, 0)
                }
            }
        }
        if sent < 0 {
            if errno == EPERM { throw .permissionDenied }
            throw .socket(operation: "sendmsg", errno: errno)
        }

        var acks: [NetlinkAck] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                if errno == ENOBUFS { acks.append(NetlinkAck(sequence: 0, errno: ENOBUFS)); break }
                throw .socket(operation: "recv", errno: errno)
            }
            if count == 0 { break }
            acks += Self.parse(Array(buffer[..<count]))
        }
        return acks.filter { $0.errno != 0 }
    }

    /// NFT_MSG_GETGEN, and the socket's network namespace cookie (Linux 5.14+; without
    /// it, nil).
    public func generation() throws(ApplyError) -> RulesetGeneration? {
        var id: UInt32? = nil
        try dump(NFT_MSG_GETGEN, family: .ip, flags: UInt16(NLM_F_ACK)) { header in
            guard let gen = nftnl_gen_alloc() else { return }
            defer { nftnl_gen_free(gen) }
            if nftnl_gen_nlmsg_parse(header, gen) >= 0 { id = nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID)) }
        }
        var cookie: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        let soNetnsCookie: Int32 = 71  // SO_NETNS_COOKIE, newer than Debian 12's glibc headers
        guard let id, getsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, soNetnsCookie, &cookie, &length) == 0 else { return nil }
        return RulesetGeneration(namespace: cookie, id: id)
    }

    public func exists(_ family: TableFamily, table: String) throws(ApplyError) -> Bool {
        var exists = false
        try dump(NFT_MSG_GETTABLE, family: family) { header in
            guard let t = nftnl_table_alloc() else { return }
            defer { nftnl_table_free(t) }
            if nftnl_table_nlmsg_parse(header, t) >= 0, let name = nftnl_table_get_str(t, UInt16(NFTNL_TABLE_NAME.rawValue)),
                String(cString: name) == table
            {
                exists = true
            }
        }
        return exists
    }

    public func state(of family: TableFamily, table: String) throws(ApplyError) -> TableState? {
        guard try exists(family, table: table) else { return nil }
        var state = TableState()
        try dump(NFT_MSG_GETCHAIN, family: family) { header in
            if let (name, kind, handle, comment) = StateParser.chain(header, table: table) {
                state.chains[name] = kind
                state.handles[name] = handle
                state.comments[name] = comment
            }
        }
        try dump(NFT_MSG_GETSET, family: family) { header in
            if let (name, definition) = StateParser.set(header, table: table) { state.sets[name] = definition }
        }
        for (name, definition) in state.sets where !definition.isDynamic {
            state.elements[name] = try elements(family, table: table, set: name)
        }
        return state
    }

    /// The elements of one set (an interval set's end markers left out).
    func elements(_ family: TableFamily, table: String, set name: String) throws(ApplyError) -> [KernelElement] {
        var elements: [KernelElement] = []
        try dump(
            NFT_MSG_GETSETELEM, family: family,
            payload: { header in
                guard let set = nftnl_set_alloc() else { return }
                defer { nftnl_set_free(set) }
                nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), table)
                nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), name)
                nftnl_set_elems_nlmsg_build_payload(header, set)
            }
        ) { header in
            elements += StateParser.elements(header)
        }
        return elements
    }

    public func chainHandle(_ family: TableFamily, table: String, chain name: String) throws(ApplyError) -> UInt64? {
        var handle: UInt64? = nil
        do {
            try dump(
                NFT_MSG_GETCHAIN, family: family, flags: UInt16(NLM_F_ACK),
                payload: { header in
                    let chain = NftChain(family: K.family(family), table: table, name: name)
                    nftnl_chain_nlmsg_build_payload(header, chain.pointer)
                }
            ) { header in
                if let (found, _, value, _) = StateParser.chain(header, table: table), found == name { handle = value }
            }
        } catch .socket(_, let code) where code == ENOENT {
            return nil
        }
        return handle
    }

    public func live(_ family: TableFamily, table: String) throws(ApplyError) -> LiveTable? {
        guard let state = try state(of: family, table: table) else { return nil }
        var live = LiveTable()
        for name in state.chains.keys { live.chains[name] = [] }
        // One dump per chain: a dump of the whole table resumes each batch of answers by
        // skipping every rule already sent, which is quadratic (15 s of kernel time for
        // 270,000 rules); a dump filtered by chain goes straight to that chain.
        for name in state.chains.keys {
            try dump(
                NFT_MSG_GETRULE, family: family,
                payload: { header in
                    let filter = NftRule(family: K.family(family), table: table, chain: name)
                    nftnl_rule_nlmsg_build_payload(header, filter.pointer)
                }
            ) { header in
                guard let rule = nftnl_rule_alloc() else { return }
                defer { nftnl_rule_free(rule) }
                guard nftnl_rule_nlmsg_parse(header, rule) >= 0,
                    let tableName = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue)), String(cString: tableName) == table,
                    let chain = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue))
                else { return }
                live.chains[String(cString: chain), default: []].append(LiveTable.render(rule))
            }
        }
        for (name, elements) in state.elements {
            live.sets[name] = elements.map(LiveTable.elementText).sorted()
        }
        return live
    }

    private var dumpSequence: UInt32 = 0x5000_0000

    /// One NLM_F_DUMP request for `family` (or, with other `flags`, a single get);
    /// `each` sees every answer message.
    private func dump(
        _ type: nf_tables_msg_types, family: TableFamily, flags: UInt16 = UInt16(NLM_F_DUMP),
        payload: ((UnsafeMutablePointer<nlmsghdr>) -> Void)? = nil, each: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(ApplyError) {
        dumpSequence += 1
        var request = [CChar](repeating: 0, count: 1024)
        let length = request.withUnsafeMutableBufferPointer { buffer -> Int in
            let header = nftnl_nlmsg_build_hdr(
                buffer.baseAddress, UInt16(type.rawValue), UInt16(K.family(family)), flags, dumpSequence)!
            payload?(header)
            return Int(header.pointee.nlmsg_len)
        }
        guard mnl_socket_sendto(socket, request, length) >= 0 else {
            if errno == EPERM { throw .permissionDenied }
            throw .socket(operation: "dump request", errno: errno)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if count < 0 { throw .socket(operation: "dump receive", errno: errno) }
            var done = false
            var failure: Int32 = 0
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset + 16 <= count {
                    let header = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
                    let length = Int(header.pointee.nlmsg_len)
                    guard length >= 16, offset + length <= count else { break }
                    if header.pointee.nlmsg_seq == dumpSequence {
                        switch Int32(header.pointee.nlmsg_type) {
                        case NLMSG_DONE: done = true
                        case NLMSG_ERROR:
                            let code = raw.loadUnaligned(fromByteOffset: offset + 16, as: Int32.self)
                            if code != 0 { failure = -code }
                            done = true
                        default: each(header)
                        }
                    }
                    offset += (length + 3) & ~3
                }
            }
            if failure == EPERM { throw .permissionDenied }
            if failure != 0 { throw .socket(operation: "dump", errno: failure) }
            if done || count == 0 { return }
        }
    }

    /// Splits a receive buffer into netlink messages and reads NLMSG_ERROR ones.
    static func parse(_ bytes: [UInt8]) -> [NetlinkAck] {
        var acks: [NetlinkAck] = []
        var offset = 0
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        while offset + 16 <= bytes.count {
            let length = Int(u32(offset))
            let type = UInt16(truncatingIfNeeded: u32(offset + 4))
            guard length >= 16, offset + length <= bytes.count else { break }
            if type == UInt16(NLMSG_ERROR), length >= 16 + 4 + 16 {
                let error = Int32(bitPattern: u32(offset + 16))
                let failedSequence = u32(offset + 20 + 8)
                acks.append(NetlinkAck(sequence: failedSequence, errno: -error))
            }
            offset += (length + 3) & ~3
        }
        return acks
    }
}
