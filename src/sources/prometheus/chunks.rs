//! Prometheus's XOR ("Gorilla") chunk encoding of float samples, decoded.
//!
//! Layout of a chunk's bytes: a big-endian `u16` sample count, then a bit stream. The first
//! sample is a signed varint timestamp and the raw 64 bits of its value; the second a
//! varint timestamp delta and an XOR-encoded value; every later one a delta-of-delta in one of
//! five widths (prefix `0`, `10`+14 bits, `110`+17, `1110`+20, `1111`+64) and an XOR-encoded
//! value (`0`: same value; `10`: meaningful bits inside the previous leading/trailing zeros;
//! `11`: 5 bits of leading zeros, 6 bits of meaningful-bit count (0 meaning 64), the bits).

/// A chunk that ends early or says more than its bytes hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XOR chunk: {0}")]
pub(crate) struct ChunkError(pub String);

struct Bits<'a> {
    bytes: &'a [u8],
    /// Next bit to read, counted from the first byte's most significant bit.
    pos: usize,
}

impl Bits<'_> {
    fn truncated() -> ChunkError {
        ChunkError("ends before its last sample".into())
    }

    fn bit(&mut self) -> Result<bool, ChunkError> {
        let byte = *self.bytes.get(self.pos / 8).ok_or_else(Self::truncated)?;
        let bit = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Ok(bit)
    }

    fn bits(&mut self, n: u32) -> Result<u64, ChunkError> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v)
    }

    fn byte(&mut self) -> Result<u8, ChunkError> {
        Ok(self.bits(8)? as u8)
    }

    fn uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(ChunkError("varint overflows 64 bits".into()));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ChunkError("varint longer than 10 bytes".into()))
    }

    /// Zig-zag signed varint (Go's `binary.PutVarint`).
    fn varint(&mut self) -> Result<i64, ChunkError> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }
}

/// XOR-value state carried from sample to sample.
struct Xor {
    value: u64,
    leading: u32,
    trailing: u32,
}

impl Xor {
    fn next(&mut self, bits: &mut Bits) -> Result<(), ChunkError> {
        if !bits.bit()? {
            return Ok(()); // unchanged value
        }
        if bits.bit()? {
            self.leading = bits.bits(5)? as u32;
            let mut significant = bits.bits(6)? as u32;
            if significant == 0 {
                significant = 64;
            }
            if self.leading + significant > 64 {
                return Err(ChunkError("XOR block wider than 64 bits".into()));
            }
            self.trailing = 64 - self.leading - significant;
        }
        let significant = 64 - self.leading - self.trailing;
        let xor = bits.bits(significant)?;
        self.value ^= xor.checked_shl(self.trailing).unwrap_or(0);
        Ok(())
    }
}

/// Reads a delta-of-delta: a unary width prefix, then a two's-complement field of that width.
fn delta_of_delta(bits: &mut Bits) -> Result<i64, ChunkError> {
    let mut ones = 0;
    while ones < 4 && bits.bit()? {
        ones += 1;
    }
    let width = match ones {
        0 => return Ok(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Ok(bits.bits(64)? as i64),
    };
    let raw = bits.bits(width)? as i64;
    // Negative values come back as large unsigned ones; the range is (-2^(w-1), 2^(w-1)].
    Ok(if raw > 1 << (width - 1) { raw - (1 << width) } else { raw })
}

/// Decodes one XOR chunk into (timestamp ms, value) pairs.
pub(crate) fn decode_xor(data: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    if data.len() < 2 {
        return Err(ChunkError(format!("{} byte(s), shorter than its header", data.len())));
    }
    let count = u16::from_be_bytes([data[0], data[1]]) as usize;
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Ok(out);
    }
    let mut bits = Bits { bytes: &data[2..], pos: 0 };
    let mut t = bits.varint()?;
    let mut xor = Xor { value: bits.bits(64)?, leading: 0, trailing: 0 };
    out.push((t, f64::from_bits(xor.value)));
    let mut delta = 0i64;
    for i in 1..count {
        if i == 1 {
            delta = bits.uvarint()? as i64;
        } else {
            delta = delta.wrapping_add(delta_of_delta(&mut bits)?);
        }
        t = t.wrapping_add(delta);
        xor.next(&mut bits)?;
        out.push((t, f64::from_bits(xor.value)));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test-side XOR encoder written from the format description above, so the decoder is
    /// checked against every branch (each delta-of-delta width, both XOR block forms).
    pub(crate) struct Writer {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl Writer {
        fn push(&mut self, bit: bool) {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if bit {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }

        fn push_bits(&mut self, value: u64, n: u32) {
            for i in (0..n).rev() {
                self.push(value >> i & 1 == 1);
            }
        }

        fn uvarint(&mut self, mut v: u64) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.push_bits(u64::from(b), 8);
                    return;
                }
                self.push_bits(u64::from(b | 0x80), 8);
            }
        }
    }

    pub(crate) fn encode_xor(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut w = Writer { bytes: Vec::new(), bits: 0 };
        let (mut prev_t, mut prev_delta, mut prev_v) = (0i64, 0i64, 0u64);
        let (mut leading, mut trailing) = (u32::MAX, 0u32);
        for (i, &(t, v)) in samples.iter().enumerate() {
            let v = v.to_bits();
            if i == 0 {
                w.uvarint(((t << 1) ^ (t >> 63)) as u64);
                w.push_bits(v, 64);
            } else {
                let delta = t - prev_t;
                if i == 1 {
                    w.uvarint(delta as u64);
                } else {
                    let dod = delta - prev_delta;
                    match dod {
                        0 => w.push(false),
                        d if (-8191..=8192).contains(&d) => {
                            w.push_bits(0b10, 2);
                            w.push_bits(d as u64 & ((1 << 14) - 1), 14);
                        }
                        d if (-65535..=65536).contains(&d) => {
                            w.push_bits(0b110, 3);
                            w.push_bits(d as u64 & ((1 << 17) - 1), 17);
                        }
                        d if (-524287..=524288).contains(&d) => {
                            w.push_bits(0b1110, 4);
                            w.push_bits(d as u64 & ((1 << 20) - 1), 20);
                        }
                        d => {
                            w.push_bits(0b1111, 4);
                            w.push_bits(d as u64, 64);
                        }
                    }
                }
                prev_delta = delta;
                let x = v ^ prev_v;
                if x == 0 {
                    w.push(false);
                } else {
                    w.push(true);
                    let (l, t) = (x.leading_zeros().min(31), x.trailing_zeros());
                    if leading != u32::MAX && l >= leading && t >= trailing {
                        w.push(false);
                        w.push_bits(x >> trailing, 64 - leading - trailing);
                    } else {
                        w.push(true);
                        leading = l;
                        trailing = t;
                        let sig = 64 - l - t;
                        w.push_bits(u64::from(l), 5);
                        w.push_bits(u64::from(sig % 64), 6);
                        w.push_bits(x >> t, sig);
                    }
                }
            }
            prev_t = t;
            prev_v = v;
        }
        let mut out = (samples.len() as u16).to_be_bytes().to_vec();
        out.extend(w.bytes);
        out
    }

    #[test]
    fn decodes_every_delta_width_and_value_form() {
        let mut samples = vec![(1_700_000_000_000i64, 0.0f64)];
        let mut t = samples[0].0;
        // Steady scrapes, jitter of each width, a long gap, counter growth and a reset,
        // repeated values, NaN and negative values.
        let deltas = [60_000, 60_000, 60_005, 59_990, 75_000, 45_000, 400_000, 60_000, 3_600_000_000, 60_000, 1];
        let values = [1.5, 1.5, 3.25, 1e12, 7.0, 0.0, f64::NAN, -2.5, 1.0 / 3.0, 1e-300, 42.0];
        for (d, v) in deltas.iter().zip(values) {
            t += d;
            samples.push((t, v));
        }
        let got = decode_xor(&encode_xor(&samples)).unwrap();
        assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(&samples) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1.to_bits(), w.1.to_bits(), "value at {}", w.0);
        }
    }

    #[test]
    fn negative_first_timestamp_and_single_sample() {
        let samples = [(-5_000i64, 123.0f64)];
        assert_eq!(decode_xor(&encode_xor(&samples)).unwrap(), samples.to_vec());
        assert_eq!(decode_xor(&[0, 0]).unwrap(), vec![]);
    }

    #[test]
    fn truncated_chunks_are_errors() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 60_000, i as f64 * 0.37)).collect();
        let bytes = encode_xor(&samples);
        let err = decode_xor(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("ends before"), "{err}");
        assert!(decode_xor(&[1]).is_err());
    }
}
