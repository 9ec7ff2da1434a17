/* Front-end internals: fixed-point helpers shared by the stage files (static inline only).
 * Each helper has one exact integer meaning. Where an Armv7E-M DSP instruction computes exactly
 * that, the instruction is used on the device; elsewhere (the host library, cores without the DSP
 * extension) the same value is computed in C. */
#ifndef TS_FE_INTERNAL_H
#define TS_FE_INTERNAL_H

#include <stdint.h>

#include "ts/fe.h"

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#define TS_FE_DSP 1
/* one instruction "insn rd, a, b" / "insn rd, a, b, c" */
#define TS_FE_OP2(insn, a, b) __extension__({ int32_t r_; __asm(insn " %0, %1, %2" : "=r"(r_) : "r"(a), "r"(b)); r_; })
#define TS_FE_OP3(insn, a, b, c)                                                                   \
    __extension__({ int32_t r_; __asm(insn " %0, %1, %2, %3" : "=r"(r_) : "r"(a), "r"(b), "r"(c)); r_; })
#else
#define TS_FE_DSP 0
#define TS_FE_OP2(insn, a, b) 0
#define TS_FE_OP3(insn, a, b, c) 0
#endif

/* round(a b / 2^32), half up: SMMULR. */
static inline int32_t ts_fe_smmulr(int32_t a, int32_t b)
{
    return TS_FE_DSP ? TS_FE_OP2("smmulr", a, b) : (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
}

/* floor(a b / 2^32): SMMUL. */
static inline int32_t ts_fe_smmul(int32_t a, int32_t b)
{
    return TS_FE_DSP ? TS_FE_OP2("smmul", a, b) : (int32_t)(((int64_t)a * b) >> 32);
}

/* floor((acc 2^32 + a b + 2^31) / 2^32) = acc + round(a b / 2^32): SMMLAR. */
static inline int32_t ts_fe_smmlar(int32_t a, int32_t b, int32_t acc)
{
    return TS_FE_DSP ? TS_FE_OP3("smmlar", a, b, acc) : (int32_t)((acc * 4294967296LL + (int64_t)a * b + 0x80000000LL) >> 32);
}

/* floor((acc 2^32 - a b + 2^31) / 2^32): SMMLSR. */
static inline int32_t ts_fe_smmlsr(int32_t a, int32_t b, int32_t acc)
{
    return TS_FE_DSP ? TS_FE_OP3("smmlsr", a, b, acc) : (int32_t)((acc * 4294967296LL - (int64_t)a * b + 0x80000000LL) >> 32);
}

/* floor(a b / 2^16) with b the signed bottom halfword: SMULWB. */
static inline int32_t ts_fe_smulwb(int32_t a, int32_t b)
{
    return TS_FE_DSP ? TS_FE_OP2("smulwb", a, b) : (int32_t)(((int64_t)a * (int16_t)(b & 0xffff)) >> 16);
}

/* acc + a b (signed 32 x 32 -> 64): SMLAL. */
static inline int64_t ts_fe_smlal(int64_t acc, int32_t a, int32_t b)
{
#if TS_FE_DSP
    __asm("smlal %Q0, %R0, %1, %2" : "+r"(acc) : "r"(a), "r"(b));
    return acc;
#else
    return acc + (int64_t)a * b;
#endif
}

/* The 32 bits of x in reverse order: RBIT. */
static inline uint32_t ts_fe_rbit(uint32_t x)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
    uint32_t r;
    __asm("rbit %0, %1" : "=r"(r) : "r"(x));
    return r;
#else
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
#endif
}

/* One int8 model input value (ts_fe_quantize_s8): clamp(floor((floor(l mul / 2^32) + add) / 2^sh),
 * -128, 127) (SSAT #8). */
static inline int8_t ts_fe_q8(int32_t l, int32_t mul, int32_t add, int32_t sh)
{
    const int32_t x = (ts_fe_smmul(l, mul) + add) >> sh;
#if TS_FE_DSP
    int32_t r;
    __asm("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return (int8_t)r;
#else
    return (int8_t)(x < -128 ? -128 : x > 127 ? 127 : x);
#endif
}

/* ts_fe_quantize_s8 on logmel [channels][n_mels][n_frames] into out[m * stride + t * channels + c]; each
 * bin's mul and add serve every channel. */
static inline void ts_fe_quantize_loop(const ts_fe_quant_t *quant, int32_t channels, int32_t n_frames,
                                       const int32_t *logmel, int8_t *out, int32_t out_mel_stride)
{
    const int32_t n_mels = quant->n_mels, sh = quant->shift - 32;
    const int32_t *mul = quant->mul, *add = quant->add; /* locals: the int8 stores may alias anything */
    const int64_t c_stride = (int64_t)n_mels * n_frames;
    for (int32_t t = 0; t < n_frames; t++) {
        const int32_t *l = logmel + t;
        int8_t *o = out + (int64_t)t * channels;
        if (channels == 2) {
            for (int32_t m = 0; m < n_mels; m++, l += n_frames, o += out_mel_stride) {
                const int32_t mm = mul[m], a = add[m];
                o[0] = ts_fe_q8(l[0], mm, a, sh);
                o[1] = ts_fe_q8(l[c_stride], mm, a, sh);
            }
        } else {
            for (int32_t m = 0; m < n_mels; m++, l += n_frames, o += out_mel_stride)
                for (int32_t c = 0; c < channels; c++) o[c] = ts_fe_q8(l[c * c_stride], mul[m], add[m], sh);
        }
    }
}

/* k = clamp(16 - ceil(b / 2), 0, TS_FE_MAX_SHIFT), b = bit length of the energy (ts_fe_frame_shift). */
static inline int32_t ts_fe_shift_of_energy(uint64_t e)
{
    const int32_t b = e ? 64 - __builtin_clzll(e) : 0;
    int32_t k = 16 - ((b + 1) >> 1);
    return k < 0 ? 0 : k > TS_FE_MAX_SHIFT ? TS_FE_MAX_SHIFT : k;
}

/* floor(log2(n)) for n > 0. */
static inline int32_t ts_fe_log2(uint32_t n)
{
    return 31 - __builtin_clz(n);
}

/* ts_fe_cfft_q31's radix-2 stage (odd log2 M only): y = x0 / 2 +- x1 W^i, Q31 twiddles (c, s) per i. */
static inline void ts_fe_radix2_stage(int32_t *buf, int32_t m, const int32_t *tw)
{
    const int32_t h = m >> 1;
    int32_t *p0 = buf, *p1 = buf + 2 * h;
    for (int32_t i = 0; i < h; i++, p0 += 2, p1 += 2, tw += 2) {
        /* (xr + j xi)(c - j s): rnd(xr c) + rnd(xi s), rnd(xi c) - rnd(xr s) (no product is a tie) */
        const int32_t ur = ts_fe_smmlar(p1[1], tw[1], ts_fe_smmulr(p1[0], tw[0]));
        const int32_t ui = ts_fe_smmlsr(p1[0], tw[1], ts_fe_smmulr(p1[1], tw[0]));
        const int32_t ar = p0[0] >> 1, ai = p0[1] >> 1;
        p0[0] = ar + ur;
        p0[1] = ai + ui;
        p1[0] = ar - ur;
        p1[1] = ai - ui;
    }
}

/* ts_fe_power_u64: bin k of buf becomes re^2 + im^2, uint64 over its (re, im) words (little endian). */
static inline void ts_fe_put_power(int32_t *slot, int32_t re, int32_t im)
{
    const uint64_t p = (uint64_t)ts_fe_smlal((int64_t)re * re, im, im);
    slot[0] = (int32_t)(uint32_t)p;
    slot[1] = (int32_t)(uint32_t)(p >> 32);
}

/* ts_fe_power_u64's bins without a partner: X[0], X[M] = Z0_re +- Z0_im, X[M/2] = conj Z[M/2]. */
static inline void ts_fe_power_ends(int32_t *buf, int32_t m)
{
    const int32_t z0r = buf[0], z0i = buf[1];
    ts_fe_put_power(buf + 2 * m, z0r - z0i, 0);
    ts_fe_put_power(buf, z0r + z0i, 0);
    ts_fe_put_power(buf + m, buf[m], buf[m + 1]);
}

/* ts_fe_power_u64's pairs k = k0 .. k1 - 1 (and M - k), w the (cos, sin) of k0. */
static inline void ts_fe_power_pairs(int32_t *buf, int32_t m, int32_t k0, int32_t k1, const int32_t *w)
{
    for (int32_t k = k0; k < k1; k++, w += 2) {
        int32_t *pk = buf + 2 * k, *pm = buf + 2 * (m - k);
        const int32_t zkr = pk[0], zki = pk[1], zmr = pm[0], zmi = pm[1];
        const int32_t ar = zkr + zmr, ai = zki - zmi, br = zkr - zmr, bi = zki + zmi;
        /* u + j v = W B / 2 (Q31: each product rounded, SMMULR) */
        const int32_t u = ts_fe_smmulr(br, w[0]) + ts_fe_smmulr(bi, w[1]);
        const int32_t v = ts_fe_smmulr(bi, w[0]) - ts_fe_smmulr(br, w[1]);
        const int32_t har = ar >> 1, hai = ai >> 1; /* A / 2, floor */
        ts_fe_put_power(pk, har + v, hai - u);
        ts_fe_put_power(pm, har - v, -hai - u);
    }
}

/* ts_fe_mel_u64's interval 0 (the rising edge of band 0 only): A_0 = floor(sum t P / 2^16). */
static inline uint64_t ts_fe_mel_first(const uint64_t *power, const uint16_t *mel_bin, const uint16_t *mel_t)
{
    uint64_t lo = 0, hi = 0;
    for (int32_t k = mel_bin[0]; k < mel_bin[1]; k++) {
        const uint32_t tk = *mel_t++;
        lo += (uint64_t)(uint32_t)power[k] * tk;         /* < 2^48 each */
        hi += (uint64_t)(uint32_t)(power[k] >> 32) * tk; /* < 2^44 each */
    }
    return (hi << 16) + (lo >> 16);
}

/* ts_fe_push_hop for the [channels][history] layout: each channel's history moves down by one hop
 * (`move`: n samples from src down to dst), the hop's n_valid interleaved samples go at the end (`split`:
 * the first frames of a stereo hop into the two rows, returning how many it did; the rest here), then
 * zeros (the right padding of centred framing). */
static inline void ts_fe_push_rows(ts_fe_t *fe, const int16_t *pcm, int32_t n_valid,
                                   void (*move)(int16_t *dst, const int16_t *src, int32_t n),
                                   int32_t (*split)(int16_t *d0, int16_t *d1, const int16_t *pcm, int32_t n))
{
    const int32_t hop = fe->cfg->hop, len = fe->cfg->history, ch = fe->cfg->channels;
    n_valid = n_valid < 0 ? 0 : n_valid > hop ? hop : n_valid;
    for (int32_t c = 0; c < ch; c++) move(fe->history + c * len, fe->history + c * len + hop, len - hop);
    int16_t *d0 = fe->history + (len - hop), *d1 = d0 + len;
    int32_t i = ch == 2 ? split(d0, d1, pcm, n_valid) : 0;
    for (; i < n_valid; i++) {
        d0[i] = pcm[i * ch];
        if (ch == 2) d1[i] = pcm[2 * i + 1];
    }
    for (int32_t c = 0; c < ch; c++)
        for (int16_t *z = d0 + c * len + n_valid; z < d0 + c * len + hop; z++) *z = 0;
    fe->hops++;
}

#endif /* TS_FE_INTERNAL_H */
