//! Deterministic 64-bit mixing: seeds for parallel random streams and stable
//! keys for ids (the same in every process and release, unlike std's hasher).

/// An independent, well-mixed seed for stream `index` of a run seeded with
/// `seed` (splitmix64), so results do not depend on the number of threads.
pub fn stream_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(index.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stable key of an integer id.
pub fn int_key(value: i64) -> u64 {
    stream_seed(value as u64, 0x1d)
}

/// Stable key of a string id (FNV-1a, then mixed).
pub fn str_key(value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    stream_seed(h, 0x5e)
}
