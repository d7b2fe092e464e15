/// What a rule or map element decides.
public enum Verdict: Hashable, Sendable {
    case accept, drop, `return`
    case jump(ChainName)
    case goto(ChainName)
}
