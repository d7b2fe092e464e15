extension RuleGraph {
    /// A fingerprint of everything the kernel would hold after an apply of this graph:
    /// each table's chains by name (a per-Service chain's name already says its content,
    /// so only the fixed chains' rules are read), each set with its elements. Two graphs
    /// with the same fingerprint install the same ruleset (`AppliedRecord` relies on it).
    public var contentFingerprint: String {
        var print = Fingerprint()
        var chains = 0, elements = 0
        for table in tables {
            print.add(table.family.rawValue)
            print.add(table.name)
            for chain in table.chains {
                chains += 1
                print.add(chain.name.text)
                print.add(chain.kind)
                if ChainIdentity.Version.split(chain.name.text).version == nil {
                    print.add(chain.rules.count)
                    for rule in chain.rules { print.add(rule) }
                }
            }
            for set in table.sets {
                print.add(set.name.text)
                print.add(set.elements.count)
                for element in set.elements {
                    elements += 1
                    for value in element.key {
                        switch value {
                        case .address(let address): print.add(address)
                        case .proto(let proto): print.add(Int(proto.number))
                        case .port(let port): print.add(Int(port))
                        }
                    }
                    if let verdict = element.verdict { print.add(verdict) } else { print.add(UInt8(0)) }
                }
            }
        }
        return "\(String(print.value, radix: 16))-\(chains)-\(elements)"
    }
}
