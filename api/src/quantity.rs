//! Resource quantities (`100m`, `0.5`, `1.5Gi`, `2k`, `1e3`): exact parsing, arithmetic, and
//! Kubernetes' canonical formatting.
//!
//! # Representation
//!
//! A [`Quantity`] is an `i128` count of nano-units (10⁻⁹) plus the [`Format`] it was written
//! in. Nano is the finest suffix Kubernetes has, so every quantity Kubernetes can print is
//! exact here; finer inputs are rounded away from zero to the next nano-unit, as Kubernetes
//! rounds them up. The range is about ±1.7·10²⁹ units (ample for 1Ei = 2⁶⁰ bytes with room for
//! sums); beyond it parsing and arithmetic fail with [`Error::OutOfRange`] instead of wrapping.
//! Equality, ordering and hashing look at the value only: `1Gi == 1073741824`.
//!
//! # Canonical form
//!
//! `Display` prints what Kubernetes' `Quantity.String()` prints: the largest suffix (or exponent
//! multiple of 3) that keeps the number an integer, in the format of the input: `1000m` → `1`,
//! `0.5` → `500m`, `1.5k` → `1500`, `1024Mi` → `1Gi`, `1.5Gi` → `1536Mi`, `1e3` → `1e3`.
//! Binary quantities below 1024 or with a fraction print as decimal (`0.5Ki` → `512`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// Why a quantity could not be parsed or computed; `Display` gives Kubernetes' message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The string does not have the shape of a quantity.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    /// The number part is malformed (e.g. two decimal points).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not one Kubernetes knows (e.g. `K`, `Kb`).
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The value does not fit the representation.
    #[error("quantity is too large to represent")]
    OutOfRange,
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a quantity prints: chosen by the suffix it was parsed with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Powers of 1000 (`m`, `k`, `M`...) or no suffix.
    #[default]
    DecimalSi,
    /// Powers of 1024 (`Ki`, `Mi`...).
    BinarySi,
    /// Decimal exponents (`1e3`, `5E-3`).
    DecimalExponent,
}

/// An exact Kubernetes resource quantity. See the module docs for the representation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

/// Divides rounding away from zero (Kubernetes' `RoundUp`).
fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if (n < 0) == (d < 0) {
        q + 1
    } else {
        q - 1
    }
}

impl Quantity {
    /// Zero, printed as `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// A quantity of `nanos` nano-units.
    pub const fn from_nanos(nanos: i128, format: Format) -> Self {
        Quantity { nanos, format }
    }

    /// A quantity of `milli` thousandths (e.g. millicores).
    pub const fn from_milli(milli: i64, format: Format) -> Self {
        Quantity {
            nanos: milli as i128 * 1_000_000,
            format,
        }
    }

    /// A quantity of whole units.
    pub const fn from_units(units: i64, format: Format) -> Self {
        Quantity {
            nanos: units as i128 * NANOS_PER_UNIT,
            format,
        }
    }

    /// CPU in millicores, printed decimally (`1500` → `1500m`, `2000` → `2`).
    pub const fn from_millicores(millicores: i64) -> Self {
        Self::from_milli(millicores, Format::DecimalSi)
    }

    /// Memory in bytes, printed in binary suffixes where exact (`1073741824` → `1Gi`).
    pub const fn from_bytes(bytes: i64) -> Self {
        Self::from_units(bytes, Format::BinarySi)
    }

    /// The value in nano-units.
    pub const fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format the quantity prints in.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// Whether the quantity is zero.
    pub const fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in thousandths, rounded away from zero (Kubernetes' `MilliValue`).
    pub fn milli_value(&self) -> i128 {
        div_away_from_zero(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded away from zero (Kubernetes' `Value`): `0.1` → 1.
    pub fn value(&self) -> i128 {
        div_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// CPU in millicores as the scheduler and cgroups use it, saturating at `i64`'s range.
    pub fn millicores(&self) -> i64 {
        saturate(self.milli_value())
    }

    /// Memory in bytes, fractions rounded up, saturating at `i64`'s range.
    pub fn bytes(&self) -> i64 {
        saturate(self.value())
    }

    /// The sum, in `self`'s format (or `other`'s if `self` is zero, as Kubernetes' `Add`).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Result<Quantity> {
        self.combined(other, self.nanos.checked_add(other.nanos))
    }

    /// A result of arithmetic on `self` and `other`: `self`'s format unless `self` is zero.
    fn combined(&self, other: &Quantity, nanos: Option<i128>) -> Result<Quantity> {
        Ok(Quantity {
            nanos: nanos.ok_or(Error::OutOfRange)?,
            format: if self.is_zero() {
                other.format
            } else {
                self.format
            },
        })
    }

    /// The difference, in `self`'s format (or `other`'s if `self` is zero, as Kubernetes' `Sub`).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] on overflow.
    pub fn checked_sub(&self, other: &Quantity) -> Result<Quantity> {
        self.combined(other, self.nanos.checked_sub(other.nanos))
    }

    /// Parses a quantity, as Kubernetes' `ParseQuantity`.
    ///
    /// # Errors
    ///
    /// [`Error::Format`], [`Error::Numeric`] or [`Error::Suffix`] for malformed input (Kubernetes'
    /// messages); [`Error::OutOfRange`] for values beyond the representation (more than about
    /// 10²⁹ units, or more than ~38 significant digits).
    pub fn parse(s: &str) -> Result<Quantity> {
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            Some(_) => (false, s),
            None => return Err(Error::Format),
        };
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = rest.split_at(number_len);
        if !number.bytes().any(|b| b.is_ascii_digit()) {
            return Err(Error::Format);
        }
        let (whole, fraction) = match number.split_once('.') {
            Some((_, f)) if f.contains('.') => return Err(Error::Numeric),
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        let (format, exp10, exp2) = parse_suffix(suffix)?;

        // value = digits / 10^fraction_len * 10^exp10 * 2^exp2, in nanos.
        let fraction = fraction.trim_end_matches('0');
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(Error::OutOfRange);
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| Error::OutOfRange)?
        };
        let mantissa = mantissa
            .checked_mul(1i128.checked_shl(exp2).ok_or(Error::OutOfRange)?)
            .ok_or(Error::OutOfRange)?;
        let scale = 9 + exp10 - fraction.len() as i64;
        let nanos = if mantissa == 0 {
            0
        } else if scale >= 0 {
            let factor = u32::try_from(scale)
                .ok()
                .and_then(|e| 10i128.checked_pow(e))
                .ok_or(Error::OutOfRange)?;
            mantissa.checked_mul(factor).ok_or(Error::OutOfRange)?
        } else {
            match u32::try_from(-scale)
                .ok()
                .and_then(|e| 10i128.checked_pow(e))
            {
                Some(divisor) => div_away_from_zero(mantissa, divisor),
                // Smaller than any representable divisor: a positive sliver, rounded up.
                None => 1,
            }
        };
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    fn write_decimal(&self, f: &mut fmt::Formatter<'_>, exponent_form: bool) -> fmt::Result {
        // Largest exponent e (multiple of 3, -9..=18) with nanos divisible by 10^(e+9).
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while exponent < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exponent += 3;
        }
        if exponent_form {
            if exponent == 0 {
                write!(f, "{mantissa}")
            } else {
                write!(f, "{mantissa}e{exponent}")
            }
        } else {
            let suffix = match exponent {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            };
            write!(f, "{mantissa}{suffix}")
        }
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Returns the format, the power of ten and the power of two a suffix stands for.
fn parse_suffix(suffix: &str) -> Result<(Format, i64, u32)> {
    let si = |e| Ok((Format::DecimalSi, e, 0));
    let binary = |e| Ok((Format::BinarySi, 0, e));
    match suffix {
        "" => si(0),
        "n" => si(-9),
        "u" => si(-6),
        "m" => si(-3),
        "k" => si(3),
        "M" => si(6),
        "G" => si(9),
        "T" => si(12),
        "P" => si(15),
        "E" => si(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let letters_len = suffix
                .bytes()
                .take_while(|b| b"eEinumkKMGTP".contains(b))
                .count();
            let (letters, tail) = suffix.split_at(letters_len);
            let digits = tail.strip_prefix(['+', '-']).unwrap_or(tail);
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Format);
            }
            if matches!(letters, "e" | "E") && !digits.is_empty() {
                let exponent: i64 = tail.parse().map_err(|_| Error::OutOfRange)?;
                if exponent.abs() > 60 {
                    return Err(Error::OutOfRange);
                }
                return Ok((Format::DecimalExponent, exponent, 0));
            }
            Err(Error::Suffix)
        }
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Quantity::parse(s)
    }
}

impl TryFrom<&str> for Quantity {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        match self.format {
            Format::DecimalSi => self.write_decimal(f, false),
            Format::DecimalExponent => self.write_decimal(f, true),
            Format::BinarySi => {
                let binary_ok = self.nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT.unsigned_abs()
                    && self.nanos % NANOS_PER_UNIT == 0;
                if !binary_ok {
                    return self.write_decimal(f, false);
                }
                let mut units = self.nanos / NANOS_PER_UNIT;
                let mut power = 0;
                while power < 6 && units % 1024 == 0 {
                    units /= 1024;
                    power += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
                write!(f, "{units}{suffix}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("0m", "0"),
            ("0Gi", "0"),
            ("-0", "0"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1.", "1"),
            ("0.1", "100m"),
            ("1.5k", "1500"),
            ("2k", "2k"),
            ("2000", "2k"),
            ("1M", "1M"),
            ("1000k", "1M"),
            ("1E", "1E"),
            ("1000E", "1000E"),
            ("1n", "1n"),
            ("1000n", "1u"),
            ("1u", "1u"),
            ("0.000000001", "1n"),
            ("0.0000000001", "1n"),
            ("-100m", "-100m"),
            ("+1", "1"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1e0", "1"),
            ("1000e0", "1e3"),
            ("1.5e3", "1500"),
            ("5e-3", "5e-3"),
            ("12e6", "12e6"),
            ("1Ki", "1Ki"),
            ("1024Mi", "1Gi"),
            ("500Mi", "500Mi"),
            ("1.5Gi", "1536Mi"),
            ("1Ei", "1Ei"),
            ("1024Ei", "1024Ei"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1Gi", "1Gi"),
            ("-1Gi", "-1Gi"),
            ("0.1Gi", "107374182400m"),
            ("2048Ki", "2Mi"),
            ("1025Ki", "1025Ki"),
        ];
        for (input, canonical) in cases {
            assert_eq!(q(input).to_string(), canonical, "{input:?}");
        }
    }

    #[test]
    fn malformed_values() {
        let cases = [
            ("", Error::Format),
            ("m", Error::Format),
            (".", Error::Format),
            ("-", Error::Format),
            ("abc", Error::Format),
            (" 1", Error::Format),
            ("1 ", Error::Format),
            ("1.2.3", Error::Numeric),
            ("1K", Error::Suffix),
            ("1Kb", Error::Format),
            ("1e", Error::Suffix),
            ("1mm", Error::Suffix),
            ("1ki", Error::Suffix),
            ("1i", Error::Suffix),
            ("1Mi3", Error::Suffix),
            ("1e3.5", Error::Format),
            ("1e1000", Error::OutOfRange),
            ("1000000000000E", Error::OutOfRange),
        ];
        for (input, error) in cases {
            assert_eq!(Quantity::parse(input), Err(error.clone()), "{input:?}");
        }
        assert_eq!(
            Error::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert_eq!(
            Error::Suffix.to_string(),
            "unable to parse quantity's suffix"
        );
    }

    #[test]
    fn exact_values() {
        assert_eq!(q("1Ei").bytes(), 1 << 60);
        assert_eq!(q("1.5Gi").bytes(), 1_610_612_736);
        assert_eq!(q("500Mi").bytes(), 500 * 1024 * 1024);
        assert_eq!(q("2").millicores(), 2000);
        assert_eq!(q("0.1").millicores(), 100);
        assert_eq!(q("250m").millicores(), 250);
        assert_eq!(q("1n").millicores(), 1, "rounds up");
        assert_eq!(q("0.1").value(), 1, "rounds up");
        assert_eq!(q("-0.1").value(), -1, "rounds away from zero");
        assert_eq!(q("100m").nanos(), 100_000_000);
        assert_eq!(
            q("1.00000000000000000000000000000000000000000000").nanos(),
            NANOS_PER_UNIT
        );
        assert_eq!(q("1000Ei").value(), 1000 * (1i128 << 60));
    }

    #[test]
    fn comparison_ignores_format() {
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1e3"), q("1k"));
        assert!(q("100m") < q("0.2"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("-1") < Quantity::ZERO);
        let mut v = [q("1Gi"), q("500Mi"), q("2k"), q("1")];
        v.sort();
        assert_eq!(
            v.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["1", "2k", "500Mi", "1Gi"]
        );
    }

    #[test]
    fn arithmetic_keeps_format() {
        let sum = q("500m").checked_add(&q("1.5")).expect("fits");
        assert_eq!(sum.to_string(), "2");
        let sum = q("512Mi").checked_add(&q("512Mi")).expect("fits");
        assert_eq!(sum.to_string(), "1Gi");
        let sum = Quantity::ZERO.checked_add(&q("1Ki")).expect("fits");
        assert_eq!(sum.to_string(), "1Ki", "zero takes the other's format");
        let diff = q("1Gi").checked_sub(&q("1.5Gi")).expect("fits");
        assert_eq!(diff.to_string(), "-512Mi");
        let max = Quantity::from_nanos(i128::MAX, Format::DecimalSi);
        assert_eq!(max.checked_add(&q("1n")), Err(Error::OutOfRange));
        assert_eq!(
            Quantity::from_nanos(i128::MAX, Format::DecimalSi).bytes(),
            i64::MAX
        );
    }

    #[test]
    fn constructors() {
        assert_eq!(Quantity::from_millicores(1500).to_string(), "1500m");
        assert_eq!(Quantity::from_millicores(2000).to_string(), "2");
        assert_eq!(Quantity::from_bytes(1 << 30).to_string(), "1Gi");
        assert_eq!(Quantity::from_bytes(1000).to_string(), "1k");
        assert_eq!(
            Quantity::from_units(3, Format::DecimalExponent).to_string(),
            "3"
        );
        assert_eq!(
            Quantity::from_milli(-1, Format::BinarySi).to_string(),
            "-1m"
        );
        assert_eq!(Quantity::from_bytes(1 << 30).format(), Format::BinarySi);
    }

    proptest! {
        #[test]
        fn display_round_trips(nanos in -(1i128 << 90)..(1i128 << 90), format in 0..3u8) {
            let format = [Format::DecimalSi, Format::BinarySi, Format::DecimalExponent][usize::from(format)];
            let quantity = Quantity::from_nanos(nanos, format);
            prop_assert_eq!(Quantity::parse(&quantity.to_string()), Ok(quantity));
        }

        #[test]
        fn milli_values_round_trip(milli in any::<i64>()) {
            let quantity = Quantity::from_millicores(milli);
            prop_assert_eq!(q(&quantity.to_string()).millicores(), milli);
        }

        #[test]
        fn addition_agrees_with_integers(a in -(1i64 << 40)..(1i64 << 40), b in -(1i64 << 40)..(1i64 << 40)) {
            let sum = Quantity::from_bytes(a).checked_add(&Quantity::from_bytes(b));
            prop_assert_eq!(sum.map(|s| s.bytes()), Ok(a + b));
        }
    }
}
