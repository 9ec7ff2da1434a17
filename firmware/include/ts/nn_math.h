/* Fixed-point primitives of TFLite's int8 kernels (gemmlowp semantics), shared by the reference and the
 * optimized kernels so that every family rounds the same way.
 *
 * Integer overflow: where TFLite's C++ relies on two's-complement wrap-around, these functions compute in
 * uint32_t and convert back, which gives the same bits without undefined behaviour.
 * Notation: Qm.n with m integer bits (sign excluded) and n = 31 - m fractional bits of an int32. */
#ifndef TS_NN_MATH_H
#define TS_NN_MATH_H

#include <stdint.h>

static inline int32_t ts_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t ts_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* a * b * 2 / 2^32, rounded to nearest (ties away from zero), saturating the one overflow case:
 * ARM's VQRDMULH. */
static inline int32_t ts_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates, as gemmlowp */
}

/* x / 2^exponent rounded to nearest, ties away from zero (exponent 0..31). */
static inline int32_t ts_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding): x * multiplier * 2^shift, multiplier Q0.31. */
static inline int32_t ts_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return ts_rdbpot(ts_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (left_shift <= 0). */
static inline int32_t ts_mbqm_lt1(int32_t x, int32_t multiplier, int32_t left_shift)
{
    return ts_rdbpot(ts_srdhm(x, multiplier), -left_shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
static inline int32_t ts_mbqm_gt1(int32_t x, int32_t multiplier, int32_t left_shift)
{
    return ts_srdhm((int32_t)((uint32_t)x << left_shift), multiplier);
}

static inline int32_t ts_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v; /* max first, then min: TFLite's order (matters only for lo > hi) */
    return v > hi ? hi : v;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for a compile-time-like exponent. */
static inline int32_t ts_sat_mul_pot(int32_t x, int exponent)
{
    if (exponent == 0) return x;
    if (exponent < 0) return ts_rdbpot(x, -exponent);
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

/* (a + b) / 2 rounded half away from zero (gemmlowp RoundingHalfSum). */
static inline int32_t ts_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(x) for x in [-1/4, 0); x and the result Q0.31. */
static inline int32_t ts_exp_on_interval_q0(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8), Q0.31 */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3, Q0.31 */
    int32_t x = ts_wrap_add(a, 1 << 28);          /* a + 1/8 */
    int32_t x2 = ts_srdhm(x, x);
    int32_t x3 = ts_srdhm(x2, x);
    int32_t x4 = ts_srdhm(x2, x2);
    int32_t x4_over_4 = ts_sat_mul_pot(x4, -2);
    int32_t poly = ts_sat_mul_pot(ts_wrap_add(ts_srdhm(ts_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
    return ts_wrap_add(constant_term, ts_srdhm(constant_term, ts_wrap_add(x, poly)));
}

/* exp(a) for a <= 0 given as Q(integer_bits).(31 - integer_bits), 0 <= integer_bits <= 5; result Q0.31
 * (gemmlowp exp_on_negative_values). */
static inline int32_t ts_exp_on_negative_values(int32_t a, int integer_bits)
{
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = ts_wrap_sub(a & mask, one_quarter);
    int32_t result = ts_exp_on_interval_q0(ts_sat_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = ts_wrap_sub(a_mod_quarter_minus_one_quarter, a);
    /* exp(-2^k) for k = -2 .. 4, Q0.31 */
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int k = -2; k <= 4; k++) {
        if (integer_bits > k) {
            const int shift_amount = fractional_bits + k;
            if (remainder & ((int32_t)1 << shift_amount)) result = ts_srdhm(result, multipliers[k + 2]);
        }
    }
    /* integer_bits <= 5: no clamp to -32 needed (gemmlowp applies it only above 5 integer bits) */
    if (a == 0) result = INT32_MAX;
    return result;
}

/* Newton-Raphson iterations of gemmlowp's 1/(1+x) and (1-x)/(1+x): returns x in Q2.29 after 3 steps
 * for the half denominator given in Q0.31. */
static inline int32_t ts_nr_reciprocal_q2(int32_t half_denominator)
{
    const int32_t constant_48_over_17 = 1515870810;   /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = ts_wrap_add(constant_48_over_17, ts_srdhm(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; i++) {
        int32_t half_denominator_times_x = ts_srdhm(half_denominator, x);           /* Q2.29 */
        int32_t one_minus = ts_wrap_sub(one_q2, half_denominator_times_x);          /* Q2.29 */
        x = ts_wrap_add(x, ts_sat_mul_pot(ts_srdhm(x, one_minus), 2));              /* Q4.27 -> Q2.29 */
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out (gemmlowp one_over_one_plus_x_for_x_in_0_1). */
static inline int32_t ts_one_over_one_plus_x_q0(int32_t a)
{
    int32_t half_denominator = ts_rounding_half_sum(a, INT32_MAX);
    int32_t x = ts_nr_reciprocal_q2(half_denominator);                    /* Q2.29 */
    return ts_sat_mul_pot(x, 1);                                          /* x/2: Q1.30 read as Q2.29 -> Q0.31 */
}

/* (1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out. */
static inline int32_t ts_one_minus_x_over_one_plus_x_q0(int32_t a)
{
    int32_t half_denominator = ts_rounding_half_sum(a, INT32_MAX);
    int32_t x = ts_nr_reciprocal_q2(half_denominator);                    /* Q2.29 */
    return ts_sat_mul_pot(ts_wrap_sub(x, (int32_t)1 << 29), 2);           /* (x - 1): Q2.29 -> Q0.31 */
}

#endif /* TS_NN_MATH_H */
