//! The compact JSON wire form of an operation: an array in which a
//! positive integer retains, a negative integer deletes and a string
//! inserts, e.g. `[10, "hello", -3]`.
//!
//! Decoding is strict because its input comes from the network: anything
//! but a non-zero integer of magnitude at most [`MAX_LEN`] or a non-empty
//! string is an error, as is an operation whose total length exceeds
//! [`MAX_LEN`] (the rules live in [`crate::wire`]). JSON has a single
//! number type, so `1.0` is the integer 1, as in JavaScript. Non-canonical input (`[1, 1]`) is accepted and
//! canonicalised; encoding always emits the canonical form.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeSeq, Serializer};

use crate::operation::{Component, Operation, MAX_LEN};

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Component::Retain(n) if *n <= MAX_LEN => serializer.serialize_u64(*n as u64),
            Component::Delete(n) if *n <= MAX_LEN => serializer.serialize_i64(-(*n as i64)),
            Component::Insert(s) => serializer.serialize_str(s),
            _ => Err(ser::Error::custom("operation length out of range")),
        }
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.components().len()))?;
        for component in self.components() {
            seq.serialize_element(component)?;
        }
        seq.end()
    }
}

/// Decodes one array element.
struct ComponentVisitor;

impl<'de> Visitor<'de> for ComponentVisitor {
    type Value = Component;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-zero integer (retain if positive, delete if negative) or a non-empty string (insert)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Component, E> {
        Component::from_wire_int(v.into()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Component, E> {
        Component::from_wire_int(v.into()).map_err(E::custom)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Component, E> {
        let v = i128::try_from(v).unwrap_or(i128::MAX);
        Component::from_wire_int(v).map_err(E::custom)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Component, E> {
        Component::from_wire_int(v).map_err(E::custom)
    }

    // serde_json hands integers beyond 64 bits over as floats too; those
    // are out of range rather than fractional.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Component, E> {
        Component::from_wire_f64(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Component, E> {
        Component::from_wire_str(v).map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Component, E> {
        Component::from_wire_str(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ComponentVisitor)
    }
}

/// Decodes the array, enforcing the total-length bound.
struct OperationVisitor;

impl<'de> Visitor<'de> for OperationVisitor {
    type Value = Operation;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an operation: an array of non-zero integers and non-empty strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operation, A::Error> {
        let mut op = Operation::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(component) = seq.next_element::<Component>()? {
            op.push_decoded(component).map_err(de::Error::custom)?;
        }
        Ok(op)
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(OperationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Operation, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trip_canonical() {
        let op = decode(r#"[2,-1,"n",2]"#).unwrap();
        assert_eq!(serde_json::to_string(&op).unwrap(), r#"[2,"n",-1,2]"#);
        let op = decode(r#"[1,1,"a","b",-1,-1]"#).unwrap();
        assert_eq!(serde_json::to_string(&op).unwrap(), r#"[2,"ab",-2]"#);
        assert_eq!(decode("[]").unwrap(), Operation::new());
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "[0]",
            "[1.5]",
            r#"[""]"#,
            "[null]",
            "[true]",
            "[[1]]",
            r#"[{"a":1}]"#,
            "[4294967296]",
            "[-4294967296]",
            "[18446744073709551616]",
            "[-9223372036854775809]",
            "[4294967295,1]",
            "{}",
            "3",
            r#""abc""#,
        ] {
            assert!(decode(bad).is_err(), "{bad} should be rejected");
        }
        assert!(decode("[4294967295]").is_ok());
        // JSON has one number type: an integral value is an integer however
        // it is spelled (a JavaScript peer could not tell the difference).
        assert_eq!(decode("[1.0,1e1]").unwrap().base_len(), 11);
        assert!(decode("[-4294967295]").is_ok());
    }
}
