//! The evaluation context: who or what a flag is evaluated for.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use xxhash_rust::xxh3::xxh3_64;

/// One attribute value element.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string.
    String(Box<str>),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// An attribute value: a scalar or a list of scalars (a clause matches a list when
/// any element matches).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A single value.
    Scalar(Scalar),
    /// A list of strings and numbers.
    List(Box<[Scalar]>),
}

impl AttrValue {
    /// The elements: a scalar is a one-element list.
    #[inline]
    pub fn elements(&self) -> &[Scalar] {
        match self {
            AttrValue::Scalar(s) => std::slice::from_ref(s),
            AttrValue::List(l) => l,
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Scalar(Scalar::String(s.into()))
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Scalar(Scalar::String(s.into()))
    }
}
impl From<f64> for AttrValue {
    fn from(n: f64) -> Self {
        AttrValue::Scalar(Scalar::Number(n))
    }
}
impl From<i64> for AttrValue {
    fn from(n: i64) -> Self {
        AttrValue::Scalar(Scalar::Number(n as f64))
    }
}
impl From<i32> for AttrValue {
    fn from(n: i32) -> Self {
        AttrValue::Scalar(Scalar::Number(f64::from(n)))
    }
}
impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Scalar(Scalar::Bool(b))
    }
}
impl From<Vec<&str>> for AttrValue {
    fn from(v: Vec<&str>) -> Self {
        AttrValue::List(v.into_iter().map(|s| Scalar::String(s.into())).collect())
    }
}
impl From<Vec<f64>> for AttrValue {
    fn from(v: Vec<f64>) -> Self {
        AttrValue::List(v.into_iter().map(Scalar::Number).collect())
    }
}

/// Attributes of the subject of an evaluation. Build it once per request and
/// evaluate as many flags against it as needed; evaluation never allocates.
///
/// ```
/// use edgeflag_evaluator::Context;
/// let ctx = Context::new("user-42")
///     .with("country", "DE")
///     .with("plan", "pro")
///     .with("groups", vec!["beta", "staff"]);
/// assert!(ctx.get("country").is_some());
/// assert_eq!(ctx.key(), Some("user-42"));
///
/// // Or from JSON (any serde format works):
/// let ctx: Context = serde_json::from_str(r#"{"key":"u1","age":41,"tags":["a",2]}"#).unwrap();
/// assert!(ctx.get("age").is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// `(hash of the name, name, value)`: the hash is computed once here so
    /// evaluation finds attributes by comparing numbers, not names.
    attrs: Vec<(u64, Box<str>, AttrValue)>,
}

/// The hash attribute names are found by (the ruleset computes the same at load).
#[inline]
pub(crate) fn name_hash(name: &str) -> u64 {
    xxh3_64(name.as_bytes())
}

const KEY_HASH: u64 = xxhash_rust::const_xxh3::xxh3_64(b"key");

/// Byte equality that stays inline for short strings (no `memcmp` call): most
/// attribute names, keys and clause values are shorter than 16 bytes.
#[inline(always)]
pub(crate) fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word8 = |x: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&x[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let word4 = |x: &[u8], i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&x[i..i + 4]);
        u32::from_le_bytes(w)
    };
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

impl Context {
    /// A context whose `key` attribute is `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Context::default().with("key", key.into())
    }

    /// Sets an attribute, replacing any earlier value of the same name.
    pub fn set(&mut self, name: &str, value: impl Into<AttrValue>) -> &mut Self {
        let value = value.into();
        match self.attrs.iter_mut().find(|(_, n, _)| &**n == name) {
            Some(slot) => slot.2 = value,
            None => self.attrs.push((name_hash(name), name.into(), value)),
        }
        self
    }

    /// Builder form of [`Context::set`].
    pub fn with(mut self, name: &str, value: impl Into<AttrValue>) -> Self {
        self.set(name, value);
        self
    }

    /// Removes an attribute (equivalent to setting it to JSON `null`).
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.attrs.retain(|(_, n, _)| &**n != name);
        self
    }

    /// The attribute named `name`, if present.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.get_hashed(name_hash(name), name.as_bytes())
    }

    /// [`Context::get`] with the name's hash already known.
    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, name: &[u8]) -> Option<&AttrValue> {
        self.attrs
            .iter()
            .find(|(h, n, _)| *h == hash && eq_bytes(n.as_bytes(), name))
            .map(|(_, _, v)| v)
    }

    /// The `key` attribute when it is a string.
    #[inline]
    pub fn key(&self) -> Option<&str> {
        match self.get_hashed(KEY_HASH, b"key") {
            Some(AttrValue::Scalar(Scalar::String(s))) => Some(s),
            _ => None,
        }
    }

    /// All attributes in insertion order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.attrs.iter().map(|(_, n, v)| (&**n, v))
    }
}

struct ContextVisitor;

enum Element {
    Scalar(Scalar),
    Null,
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor { in_list: true })
    }
}

struct ElementVisitor {
    in_list: bool,
}

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Element, E> {
        Ok(Element::Scalar(Scalar::String(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Element, E> {
        Ok(Element::Scalar(Scalar::Number(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Element, E> {
        Ok(Element::Scalar(Scalar::Number(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Element, E> {
        Ok(Element::Scalar(Scalar::Number(v as f64)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Element, E> {
        if self.in_list {
            Err(E::custom("list elements must be strings or numbers"))
        } else {
            Ok(Element::Scalar(Scalar::Bool(v)))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
        if self.in_list {
            Err(E::custom("list elements must be strings or numbers"))
        } else {
            Ok(Element::Null)
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Element, E> {
        self.visit_unit()
    }
}

struct AttrSeed;

enum Attr {
    Value(AttrValue),
    Null,
}

impl<'de> de::DeserializeSeed<'de> for AttrSeed {
    type Value = Attr;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Attr, D::Error> {
        d.deserialize_any(AttrVisitor)
    }
}

struct AttrVisitor;

impl<'de> Visitor<'de> for AttrVisitor {
    type Value = Attr;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean, null, or a list of strings and numbers")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Attr, E> {
        Ok(Attr::Value(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Attr, E> {
        Ok(Attr::Value(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Attr, E> {
        Ok(Attr::Value(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Attr, E> {
        Ok(Attr::Value((v as f64).into()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Attr, E> {
        Ok(Attr::Value(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Attr, E> {
        Ok(Attr::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Attr, E> {
        Ok(Attr::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attr, A::Error> {
        let mut items = Vec::new();
        while let Some(e) = seq.next_element::<Element>()? {
            if let Element::Scalar(s) = e {
                items.push(s);
            }
        }
        Ok(Attr::Value(AttrValue::List(items.into())))
    }
}

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = Context;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a context object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Context, A::Error> {
        let mut ctx = Context::default();
        while let Some(name) = map.next_key::<String>()? {
            let attr = map
                .next_value_seed(AttrSeed)
                .map_err(|e| de::Error::custom(format_args!("attribute {name:?}: {e}")))?;
            match attr {
                Attr::Null => {
                    ctx.remove(&name);
                }
                Attr::Value(v) => {
                    if name == "key" && !matches!(v, AttrValue::Scalar(Scalar::String(_))) {
                        return Err(de::Error::custom("attribute \"key\" must be a string"));
                    }
                    ctx.set(&name, v);
                }
            }
        }
        Ok(ctx)
    }
}

impl<'de> Deserialize<'de> for Context {
    /// Deserializes from a map of attribute name to value; `null` means absent.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ContextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_bytes_agrees_with_slice_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnoq",
            "bbcdefghijklmnop",
            "abcdefgx",
            "xbcdefgh",
            "abcx",
            "xbcd",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    eq_bytes(a.as_bytes(), b.as_bytes()),
                    a == b,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn key_hash_is_the_name_hash_of_key() {
        assert_eq!(KEY_HASH, name_hash("key"));
    }
}
