//! A minimal strict DER reader: tag, definite length, contents. Used where the typed parsers
//! cannot be (rebuilding a precertificate TBS, walking CMS SignedData).

/// Malformed DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub &'static str);

/// One element: its tag byte, its full encoding and its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The (single-byte) tag.
    pub tag: u8,
    /// Tag, length and contents.
    pub raw: &'a [u8],
    /// Contents only.
    pub value: &'a [u8],
}

/// Reads the first element of `input`; returns it and the rest.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let tag = *input.first().ok_or(DerError("unexpected end of input"))?;
    if tag & 0x1f == 0x1f {
        return Err(DerError("multi-byte tags are not supported"));
    }
    let first = *input.get(1).ok_or(DerError("missing length"))?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 {
            return Err(DerError("indefinite length is not DER"));
        }
        if n > 4 {
            return Err(DerError("length too large"));
        }
        let bytes = input.get(2..2 + n).ok_or(DerError("truncated length"))?;
        if bytes[0] == 0 {
            return Err(DerError("non-minimal length"));
        }
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        if len < 0x80 {
            return Err(DerError("non-minimal length"));
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len).ok_or(DerError("length overflow"))?;
    let raw = input.get(..end).ok_or(DerError("truncated contents"))?;
    Ok((
        Tlv {
            tag,
            raw,
            value: &raw[header..],
        },
        &input[end..],
    ))
}

/// Reads exactly one element with `tag` that spans all of `input`.
pub fn read_only(input: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let (t, rest) = read(input)?;
    if t.tag != tag {
        return Err(DerError("unexpected tag"));
    }
    if !rest.is_empty() {
        return Err(DerError("trailing data"));
    }
    Ok(t)
}

/// All elements of a constructed value's contents.
pub fn children(mut value: &[u8]) -> Result<Vec<Tlv<'_>>, DerError> {
    let mut out = Vec::new();
    while !value.is_empty() {
        let (t, rest) = read(value)?;
        out.push(t);
        value = rest;
    }
    Ok(out)
}

/// Encodes tag, length, contents.
pub fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (without the unused-bits byte).
pub fn spki_key_bits(spki: &[u8]) -> Result<&[u8], DerError> {
    let (outer, _) = read(spki)?;
    if outer.tag != 0x30 {
        return Err(DerError("SubjectPublicKeyInfo is not a SEQUENCE"));
    }
    let (alg, rest) = read(outer.value)?;
    if alg.tag != 0x30 {
        return Err(DerError("the key's algorithm is not a SEQUENCE"));
    }
    let (bits, _) = read(rest)?;
    if bits.tag != 0x03 || bits.value.is_empty() {
        return Err(DerError("the subjectPublicKey is not a BIT STRING"));
    }
    Ok(&bits.value[1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let v = vec![7u8; n];
            let e = encode(0x04, &v);
            let (t, rest) = read(&e).unwrap();
            assert_eq!((t.tag, t.value.len(), rest.len()), (0x04, n, 0));
        }
        assert_eq!(
            read(&[0x30, 0x80]).unwrap_err(),
            DerError("indefinite length is not DER")
        );
        assert_eq!(
            read(&[0x30, 0x81, 0x05]).unwrap_err(),
            DerError("non-minimal length")
        );
        assert_eq!(
            read(&[0x30, 0x03, 0x01]).unwrap_err(),
            DerError("truncated contents")
        );
        assert!(read_only(&[0x04, 0x00, 0x00], 0x04).is_err());
    }
}
