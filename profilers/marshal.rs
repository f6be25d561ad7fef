//! A reader for the subset of CPython's `marshal` format that `pstats` files use
//! (dicts, tuples, strings, ints, floats, back-references). Bounded: malformed input is an
//! error, never a panic or an unbounded allocation.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("marshal: {0} at byte {1}")]
pub struct MarshalError(pub &'static str, pub usize);

const FLAG_REF: u8 = 0x80;
const MAX_DEPTH: usize = 64;

pub fn parse(bytes: &[u8]) -> Result<Value, MarshalError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        refs: Vec::new(),
        // Back-references copy what they point at, so a few KB of nested references
        // (a tuple of 255 refs to a tuple of 255 refs to ...) expand exponentially (fuzzing
        // ran out of memory on one). Real pstats files expand about 1.6x (nodes + string
        // bytes over file bytes); allow 16x plus 1 Mi before calling the file malformed.
        budget: bytes.len().saturating_mul(16).saturating_add(1 << 20),
    };
    let v = r.value(0)?;
    Ok(v)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    refs: Vec<Value>,
    /// Values (nodes + string bytes) this file may still materialise.
    budget: usize,
}

/// What materialising a value costs against `Reader::budget`: one per node plus string bytes.
fn weight(v: &Value) -> usize {
    match v {
        Value::Str(s) => 1 + s.len(),
        Value::Tuple(t) => t.iter().fold(1, |n, v| n.saturating_add(weight(v))),
        Value::Dict(d) => d.iter().fold(1, |n, (k, v)| {
            n.saturating_add(weight(k)).saturating_add(weight(v))
        }),
        _ => 1,
    }
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MarshalError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(MarshalError("truncated", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, MarshalError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len(&mut self) -> Result<usize, MarshalError> {
        let n = self.i32()?;
        // Every element takes at least one byte, so a length beyond the input is a lie.
        if n < 0 || n as usize > self.bytes.len() - self.pos {
            return Err(MarshalError("bad length", self.pos));
        }
        Ok(n as usize)
    }

    fn spend(&mut self, cost: usize) -> Result<(), MarshalError> {
        self.budget = self.budget.checked_sub(cost).ok_or(MarshalError(
            "back-references expand beyond bounds",
            self.pos,
        ))?;
        Ok(())
    }

    fn string(&mut self, n: usize) -> Result<Value, MarshalError> {
        self.spend(n)?;
        let b = self.take(n)?;
        Ok(Value::Str(String::from_utf8_lossy(b).into_owned()))
    }

    fn value(&mut self, depth: usize) -> Result<Value, MarshalError> {
        if depth > MAX_DEPTH {
            return Err(MarshalError("nested too deep", self.pos));
        }
        let at = self.pos;
        self.spend(1)?;
        let code = self.u8()?;
        let flag = code & FLAG_REF != 0;
        // Reserve the ref slot before reading children, as CPython does.
        let slot = if flag {
            self.refs.push(Value::None);
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let v = match code & !FLAG_REF {
            b'N' => Value::None,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' => Value::Int(self.i32()? as i64),
            b'l' => {
                // Arbitrary precision in 15-bit digits; profiles only need small ones.
                let n = self.i32()?;
                let digits = n.unsigned_abs() as usize;
                if digits > 4 {
                    return Err(MarshalError("long too large", at));
                }
                let mut value: i64 = 0;
                for i in 0..digits {
                    let b = self.take(2)?;
                    value |= (u16::from_le_bytes([b[0], b[1]]) as i64) << (15 * i);
                }
                Value::Int(if n < 0 { -value } else { value })
            }
            b'g' => {
                let b = self.take(8)?;
                Value::Float(f64::from_le_bytes(b.try_into().unwrap()))
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                self.string(n)?
            }
            b'a' | b'A' | b'u' | b't' | b's' => {
                let n = self.len()?;
                self.string(n)?
            }
            b')' => {
                let n = self.u8()? as usize;
                self.tuple(n, depth)?
            }
            b'(' | b'[' => {
                let n = self.len()?;
                self.tuple(n, depth)?
            }
            b'{' => {
                let mut items = Vec::new();
                loop {
                    if self.bytes.get(self.pos) == Some(&b'0') {
                        self.pos += 1;
                        break;
                    }
                    let k = self.value(depth + 1)?;
                    let v = self.value(depth + 1)?;
                    items.push((k, v));
                }
                Value::Dict(items)
            }
            b'r' => {
                let i = self.i32()?;
                let v = self
                    .refs
                    .get(i as usize)
                    .ok_or(MarshalError("bad reference", at))?;
                // A reference is a copy: charge its full size (the clone costs as much).
                let cost = weight(v);
                self.spend(cost)?;
                return Ok(self.refs[i as usize].clone());
            }
            _ => return Err(MarshalError("unknown type code", at)),
        };
        if let Some(s) = slot {
            self.refs[s] = v.clone();
        }
        Ok(v)
    }

    fn tuple(&mut self, n: usize, depth: usize) -> Result<Value, MarshalError> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Tuple(items))
    }
}

/// Helpers to read values without matching everywhere.
impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_tuple(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_values() {
        // marshal.dumps({'a': (1, 2.5)}) in CPython 3.11
        let bytes = [
            123u8, 218, 1, 97, 169, 2, 233, 1, 0, 0, 0, 231, 0, 0, 0, 0, 0, 0, 4, 64, 48,
        ];
        let v = parse(&bytes).unwrap();
        assert_eq!(
            v,
            Value::Dict(vec![(
                Value::Str("a".into()),
                Value::Tuple(vec![Value::Int(1), Value::Float(2.5)])
            )])
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(parse(&[0xfb, 0xda, 0x05, b'a']).is_err());
        assert!(parse(&[b'(', 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(parse(&[]).is_err());
    }
}
