//! A serde `Deserializer` over [`Node`]s: settings structs derive `Deserialize`
//! as usual, and every error comes back with the position of the node at fault.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use super::node::{Key, Node, Pos, Value};

/// A deserialization error with the position of the node that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// What went wrong, as serde or a settings type said it.
    pub message: String,
    /// Where; `None` until the innermost node that saw the error fills it in.
    pub pos: Option<Pos>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            pos: None,
        }
    }
}

impl DeError {
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }
}

/// Deserializes a `T` from a node.
pub fn from_node<'a, T: de::Deserialize<'a>>(node: &'a Node<'a>) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|e| e.at(node.pos))
}

/// Deserializes a `T` from a node with a seed.
pub fn from_node_seed<'a, S: DeserializeSeed<'a>>(
    seed: S,
    node: &'a Node<'a>,
) -> Result<S::Value, DeError> {
    seed.deserialize(NodeDe(node)).map_err(|e| e.at(node.pos))
}

/// Deserializes an enum written as the one-entry mapping `key: value` without
/// building that mapping: what [`from_node`] gives for it when that is a
/// value; `None` when it is an error, which `from_node` then tells.
pub fn enum_from_entry<'a, T: de::Deserialize<'a>>(
    key: &'a Key<'a>,
    value: &'a Node<'a>,
) -> Option<T> {
    T::deserialize(EntryDe { key, value }).ok()
}

/// Parses YAML text and deserializes it, errors as text: for unit tests of
/// settings structs.
#[cfg(test)]
pub fn from_yaml<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
    let node = super::node::parse(yaml).map_err(|e| e.message)?;
    from_node(&node).map_err(|e| e.message)
}

/// The deserializer for one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a>(pub &'a Node<'a>);

impl<'a> NodeDe<'a> {
    fn scalar_text(&self) -> Option<String> {
        match &self.0.value {
            Value::Str(s) => Some(s.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn invalid(&self, expected: &str) -> DeError {
        DeError {
            message: format!("expected {expected}, found {}", self.0.shape()),
            pos: Some(self.0.pos),
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'a> Deserializer<'a> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let pos = self.0.pos;
        let result = match &self.0.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                iter: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.at(pos))
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        // People write `value: 200` where a string is wanted; accept scalars as text.
        let pos = self.0.pos;
        match &self.0.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            _ => match self.scalar_text() {
                Some(text) => visitor.visit_string(text),
                None => Err(self.invalid("a string")),
            },
        }
        .map_err(|e| e.at(pos))
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let pos = self.0.pos;
        match &self.0.value {
            Value::Str(s) => visitor.visit_enum(s.as_ref().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(EnumDe { key, value })
            }
            Value::Map(entries) if entries.is_empty() => Err(self.invalid("one key")),
            Value::Map(entries) => Err(DeError {
                message: format!(
                    "expected a single key, found {} keys (`{}`)",
                    entries.len(),
                    entries
                        .iter()
                        .map(|(k, _)| k.name.as_ref())
                        .collect::<Vec<_>>()
                        .join("`, `")
                ),
                pos: Some(entries[1].0.pos),
            }),
            _ => Err(self.invalid("a string or a one-key mapping")),
        }
        .map_err(|e| e.at(pos))
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_map deserialize_identifier
        deserialize_i128 deserialize_u128
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0.value {
            // An empty `http:` means "all defaults"; let structs take it as `{}`.
            Value::Null => visitor
                .visit_map(MapDe {
                    iter: [].iter(),
                    value: None,
                })
                .map_err(|e| e.at(self.0.pos)),
            Value::Map(_) => self.deserialize_any(visitor),
            _ => Err(self.invalid("a mapping")),
        }
    }
}

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Node<'a>>,
}

impl<'a> de::SeqAccess<'a> for SeqDe<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => from_node_seed(seed, node).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe<'a> {
    iter: std::slice::Iter<'a, (Key<'a>, Node<'a>)>,
    value: Option<&'a Node<'a>>,
}

impl<'a> de::MapAccess<'a> for MapDe<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDe(key))
                    .map(Some)
                    .map_err(|e| e.at(key.pos))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value asked before key"))?;
        from_node_seed(seed, node)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Keys deserialize as strings (or parsed numbers, for maps keyed by numbers).
struct KeyDe<'a>(&'a Key<'a>);

impl<'de> Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(&self.0.name)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.name.parse::<u16>() {
            Ok(n) => visitor.visit_u16(n),
            Err(_) => visitor.visit_borrowed_str(&self.0.name),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.0.name.as_ref().into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// A one-entry mapping read as an enum, as [`NodeDe::deserialize_enum`]
/// reads it; asked for anything else, it fails.
struct EntryDe<'a> {
    key: &'a Key<'a>,
    value: &'a Node<'a>,
}

impl<'de> Deserializer<'de> for EntryDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(<DeError as de::Error>::custom("expected an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(EnumDe {
            key: self.key,
            value: self.value,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct EnumDe<'a> {
    key: &'a Key<'a>,
    value: &'a Node<'a>,
}

impl<'a> de::EnumAccess<'a> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'a>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let variant = seed
            .deserialize(KeyDe(self.key))
            .map_err(|e| e.at(self.key.pos))?;
        Ok((variant, NodeDe(self.value)))
    }
}

impl<'a> de::VariantAccess<'a> for NodeDe<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.0.value {
            Value::Null => Ok(()),
            _ => Err(self.invalid("no value")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        from_node_seed(seed, self.0)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_struct("", &[], visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        #[allow(dead_code)]
        get: String,
        #[serde(default)]
        #[allow(dead_code)]
        retries: u32,
    }

    #[test]
    fn unknown_field_points_at_the_key() {
        let node = parse("get: /x\nretires: 2\n").expect("yaml");
        let err = from_node::<Settings>(&node).expect_err("unknown field");
        assert!(err.message.contains("unknown field `retires`"), "{err}");
        assert_eq!(err.pos, Some(Pos { line: 2, column: 1 }));
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let node = parse("get: /x\nretries: [1]\n").expect("yaml");
        let err = from_node::<Settings>(&node).expect_err("wrong type");
        assert!(err.message.contains("invalid type"), "{err}");
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 2,
                column: 10
            })
        );
    }

    #[test]
    fn numbers_are_accepted_as_strings() {
        let node = parse("get: 200\n").expect("yaml");
        let settings = from_node::<Settings>(&node).expect("ok");
        assert_eq!(settings.get, "200");
    }
}
