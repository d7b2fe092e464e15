import Svc2NftAgent
import Svc2NftCore
import Testing

/// `/healthz`'s node eligibility as `NodeInfo` reads it from parsed Node objects (the
/// parser once dropped `deletionTimestamp` as API server bookkeeping).
@Suite struct NodeEligibilityTests {
    func info(_ json: String) throws -> NodeInfo {
        NodeInfo(try ManifestReader.parse(Array(json.utf8), file: "node.json")[0].value)
    }

    @Test func deletionAndTheAutoscalerTaintMakeTheNodeIneligible() throws {
        #expect(
            try info(#"{"kind": "Node", "metadata": {"name": "a"}, "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}"#).eligible)
        #expect(
            try !info(
                #"{"kind": "Node", "metadata": {"name": "a"}, "spec": {"taints": [{"key": "ToBeDeletedByClusterAutoscaler", "value": "1700000000", "effect": "NoSchedule"}]}}"#
            ).eligible)
        #expect(try !info(#"{"kind": "Node", "metadata": {"name": "a", "deletionTimestamp": "2026-12-05T03:00:00Z"}}"#).eligible)
    }
}
