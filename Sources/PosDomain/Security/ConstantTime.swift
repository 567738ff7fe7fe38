import Crypto

/// Comparison whose running time does not depend on where two secrets first differ.
public enum ConstantTime {
    public static func equals<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
        return difference == 0
    }

    /// Two secrets of any lengths compared through their SHA-256 digests, so neither where they
    /// differ nor how long the expected one is shows in the time taken.
    public static func equalSecrets(_ lhs: String, _ rhs: String) -> Bool {
        equals(Array(SHA256.hash(data: Array(lhs.utf8))), Array(SHA256.hash(data: Array(rhs.utf8))))
    }
}
