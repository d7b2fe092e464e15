import ArgumentParser
import Foundation

/// Why a command failed, and the one place each reason becomes an exit code (README
/// "Exit codes"). The message is printed where the failure is found; this only ends the
/// process with the right status.
enum Failure: Error {
    /// The kernel refused a batch, or svc2nft is not root: exit 1; nothing changed.
    case kernel
    /// `diff` found differences: exit 1.
    case differences
    /// `run` could not start: the node lock is held, or the kubeconfig or credentials
    /// cannot be used: exit 1. (Also `apply` and `delete` when the lock is held.)
    case cannotStart
    /// The result could not be written (standard output closed or full): exit 1.
    case output
    /// Bad input, or a bad option: exit 2, before anything was sent.
    case badInput
    /// `diff` could not read the kernel's tables: exit 3, so scripts can tell it from
    /// "different".
    case kernelUnreadable

    var exitCode: Int32 {
        switch self {
        case .kernel, .differences, .cannotStart, .output: 1
        case .badInput: 2
        case .kernelUnreadable: 3
        }
    }

    /// The exit code for anything a command or the argument parser threw: a usage error
    /// from swift-argument-parser (its EX_USAGE, 64) is a bad option, exit 2 like ours.
    static func exitCode(for error: any Error, of command: any ParsableCommand.Type) -> Int32 {
        if let failure = error as? Failure { return failure.exitCode }
        let code = command.exitCode(for: error)
        return code == .validationFailure ? Failure.badInput.exitCode : code.rawValue
    }
}
