"""Writes src/math_tables.rs, the constants of the `ln` and `exp` in src/math.rs.

Every value is computed with Python's decimal module at 60 digits and rounded once to the
nearest double (the two `_HI` constants are truncated on purpose, see below), so each is
correctly rounded. Standard library only:

    python3 plugins/drift-ks/gen_math_tables.py            # rewrite the file
    python3 plugins/drift-ks/gen_math_tables.py --check    # exit 1 if it is out of date
"""

import decimal
import struct
import sys
from decimal import Decimal
from pathlib import Path

decimal.getcontext().prec = 60

LN_BITS = 8  # 256 intervals
EXP_BITS = 7  # 128 entries
LN_OFFSET = 0x3FE6000000000000  # bits of 0.6875: reduced arguments lie in [0.6875, 1.375)
ONE = 0x3FF0000000000000


def from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def to_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def nearest(d: Decimal) -> float:
    """The double nearest to d (Python's float() of a Decimal rounds correctly)."""
    return float(d)


def split(d: Decimal) -> tuple[float, float]:
    """d as hi + lo, hi the nearest double and lo the nearest double to the rest."""
    hi = nearest(d)
    return hi, nearest(d - Decimal(hi))


def literal(x: float) -> str:
    return f"f64::from_bits(0x{to_bits(x):016X})"


def ln_rows() -> list[tuple[float, float, float, float]]:
    rows = []
    step = 1 << (52 - LN_BITS)
    for i in range(1 << LN_BITS):
        start = LN_OFFSET + i * step
        # The two intervals that meet at 1 are centred on 1, so arguments near 1 keep their
        # relative accuracy: there r = z - 1 exactly and ln(c) = 0.
        if start in (ONE - step, ONE):
            c = 1.0
        else:
            c = from_bits(start + step // 2)  # the midpoint: an interval lies in one binade
        invc = nearest(1 / Decimal(c))
        logc_hi, logc_lo = split(Decimal(c).ln())
        rows.append((c, invc, logc_hi, logc_lo))
    return rows


def exp_rows() -> list[tuple[float, float]]:
    n = 1 << EXP_BITS
    return [split((Decimal(2) ** (Decimal(j) / n))) for j in range(n)]


def main() -> None:
    ln2 = Decimal(2).ln()
    # ln 2 with its low 11 bits zero, so that k * LN2_HI is exact for any exponent k of a
    # double; and the same for ln 2 / 128 with its low 17 bits zero, for |k| < 2^17.
    ln2_hi = from_bits(to_bits(nearest(ln2)) & ~((1 << 11) - 1))
    ln2_lo = nearest(ln2 - Decimal(ln2_hi))
    n = 1 << EXP_BITS
    ln2_n_hi = from_bits(to_bits(nearest(ln2 / n)) & ~((1 << 17) - 1))
    ln2_n_lo = nearest(ln2 / n - Decimal(ln2_n_hi))
    n_over_ln2 = nearest(n / ln2)

    out = [
        "//! Constants of [`crate::math`], written by `gen_math_tables.py`; do not edit.",
        "",
        f"/// Bits of the table index in `ln`: {1 << LN_BITS} intervals.",
        f"pub(crate) const LN_BITS: u32 = {LN_BITS};",
        "/// Bits of 0.6875: `ln` reduces its argument to [0.6875, 1.375).",
        f"pub(crate) const LN_OFFSET: u64 = 0x{LN_OFFSET:016X};",
        "/// ln 2, its low 11 bits zero, and the rest.",
        f"pub(crate) const LN2_HI: f64 = {literal(ln2_hi)};",
        f"pub(crate) const LN2_LO: f64 = {literal(ln2_lo)};",
        f"/// Bits of the table index in `exp`: {n} entries.",
        f"pub(crate) const EXP_BITS: u32 = {EXP_BITS};",
        f"/// {n} / ln 2.",
        f"pub(crate) const N_OVER_LN2: f64 = {literal(n_over_ln2)};",
        f"/// ln 2 / {n}, its low 17 bits zero, and the rest.",
        f"pub(crate) const LN2_OVER_N_HI: f64 = {literal(ln2_n_hi)};",
        f"pub(crate) const LN2_OVER_N_LO: f64 = {literal(ln2_n_lo)};",
        "",
        "/// Per interval of the reduced argument: its centre `c` (a double close to the",
        "/// interval's midpoint, or 1 for the two intervals next to 1), the double nearest",
        "/// `1 / c`, and `ln c` as a sum of two doubles.",
        f"pub(crate) const LN: [[f64; 4]; {1 << LN_BITS}] = [",
    ]
    for row in ln_rows():
        out.append("    [" + ", ".join(literal(x) for x in row) + "],")
    out += [
        "];",
        "",
        f"/// `2^(j / {n})` as a sum of two doubles.",
        f"pub(crate) const EXP2: [[f64; 2]; {n}] = [",
    ]
    for row in exp_rows():
        out.append("    [" + ", ".join(literal(x) for x in row) + "],")
    out += ["];", ""]
    path = Path(__file__).parent / "src" / "math_tables.rs"
    text = "\n".join(out)
    if "--check" in sys.argv[1:]:
        if path.read_text() != text:
            sys.exit(f"{path} differs from what this script writes")
        print(f"{path} is up to date")
    else:
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
