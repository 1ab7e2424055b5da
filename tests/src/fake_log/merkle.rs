//! RFC 6962 Merkle tree hashes: leaf hashes and the tree head over a prefix of the leaves.
//!
//! Only the root is computed. Audit and consistency proofs are not served by the fake log.

use sha2::{Digest, Sha256};

/// A SHA-256 hash in the tree.
pub type Hash = [u8; 32];

/// Computes the leaf hash SHA-256(0x00 || leaf_input), where `leaf_input` is the
/// MerkleTreeLeaf structure as served in `get-entries`.
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf_input);
    hasher.finalize().into()
}

/// Computes the Merkle tree hash (MTH) over `leaf_hashes`. The empty tree hashes to
/// SHA-256 of the empty string.
pub fn root_hash(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes.len() {
        0 => Sha256::digest([]).into(),
        1 => leaf_hashes[0],
        n => {
            let split = largest_power_of_two_below(n);
            let left = root_hash(&leaf_hashes[..split]);
            let right = root_hash(&leaf_hashes[split..]);
            node_hash(&left, &right)
        }
    }
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Returns the largest power of two strictly less than `n` (`n` >= 2), the split point of RFC 6962.
fn largest_power_of_two_below(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_below() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (778, 512),
            (1024, 512),
        ];
        for (n, expected) in cases {
            assert_eq!(largest_power_of_two_below(n), expected, "n = {n}");
        }
    }

    #[test]
    fn empty_tree_hash() {
        assert_eq!(
            hex::encode(root_hash(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn empty_leaf_hash() {
        assert_eq!(
            hex::encode(leaf_hash(&[])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn three_leaf_tree_shape() {
        let leaves: Vec<Hash> = [b"a", b"b", b"c"].iter().map(|l| leaf_hash(*l)).collect();
        let expected = node_hash(&node_hash(&leaves[0], &leaves[1]), &leaves[2]);
        assert_eq!(root_hash(&leaves), expected);
    }
}
