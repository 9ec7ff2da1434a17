/* Support function of ts_conv_wino_s8 (Armv7E-M): Winograd's transformed weights of one output channel pair,
 * made at run time from the int8 taps (the compiler stores the weights once, int8; with `--prefer speed` it
 * stores these transformed ones instead).
 *
 * U = G' g G'^T with G' = [[2 0 0] [1 1 1] [1 -1 1] [0 0 2]] (twice Lavin and Gray's G, so that U is integer;
 * |U| <= 9 x 128 fits int16), per output channel and input channel. Two input channels at a time in int16
 * halves: a tap word [i0 i1 i2 i3] gives (i0, i2) by SXTB16 and (i1, i3) by SXTB16 ROR 8, and the transform is
 * SADD16 / SSUB16 on those pairs: per column of taps a0 = 2 g0, a1 = g0 + g1 + g2, a2 = g0 - g1 + g2, a3 =
 * 2 g2, then the same along each row. Output layout (what ts_armv7em_wino_gemm reads): for each of the 16
 * positions (row-major 4x4), k4 groups of [c0(i0,i2) c0(i1,i3) c1(i0,i2) c1(i1,i3)]. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* (x0, x1, x2) -> (2 x0, x0 + x1 + x2, x0 - x1 + x2, 2 x2), per int16 half: y0..y3. */
#define G3(x0, x1, x2, y0, y1, y2, y3)   \
    do {                                 \
        const uint32_t t_ = __sadd16(x0, x2); \
        y0 = __sadd16(x0, x0);           \
        y1 = __sadd16(t_, x1);           \
        y2 = __ssub16(t_, x1);           \
        y3 = __sadd16(x2, x2);           \
    } while (0)

/* One channel's 9 tap pairs (int16 halves, t0..t8 = t[ky * 3 + kx]) -> 16 transformed pairs at u[pos * s],
 * straight-line (every value in a register). */
static inline __attribute__((always_inline)) void transform(uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3,
                                                            uint32_t t4, uint32_t t5, uint32_t t6, uint32_t t7,
                                                            uint32_t t8, uint32_t *u, int32_t s)
{
    uint32_t a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23; /* a[kx][row] */
    G3(t0, t3, t6, a00, a01, a02, a03);
    G3(t1, t4, t7, a10, a11, a12, a13);
    G3(t2, t5, t8, a20, a21, a22, a23);
    uint32_t y0, y1, y2, y3;
    G3(a00, a10, a20, y0, y1, y2, y3);
    u[0 * s] = y0, u[1 * s] = y1, u[2 * s] = y2, u[3 * s] = y3;
    G3(a01, a11, a21, y0, y1, y2, y3);
    u[4 * s] = y0, u[5 * s] = y1, u[6 * s] = y2, u[7 * s] = y3;
    G3(a02, a12, a22, y0, y1, y2, y3);
    u[8 * s] = y0, u[9 * s] = y1, u[10 * s] = y2, u[11 * s] = y3;
    G3(a03, a13, a23, y0, y1, y2, y3);
    u[12 * s] = y0, u[13 * s] = y1, u[14 * s] = y2, u[15 * s] = y3;
}

void ts_armv7em_wino_weights(const int32_t *taps0, const int32_t *taps1, int32_t k4, int32_t *u)
{
    const int32_t stride = 4 * k4; /* words from one position's block to the next */
    for (int32_t q = 0; q < k4; q++) {
        for (int32_t ch = 0; ch < 2; ch++) {
            const int32_t *t = (ch ? taps1 : taps0) + q;
            uint32_t *dst = (uint32_t *)(void *)(u + 4 * q + 2 * ch);
            const uint32_t v0 = (uint32_t)t[0], v1 = (uint32_t)t[k4], v2 = (uint32_t)t[2 * k4];
            const uint32_t v3 = (uint32_t)t[3 * k4], v4 = (uint32_t)t[4 * k4], v5 = (uint32_t)t[5 * k4];
            const uint32_t v6 = (uint32_t)t[6 * k4], v7 = (uint32_t)t[7 * k4], v8 = (uint32_t)t[8 * k4];
            transform(__sxtb16(v0), __sxtb16(v1), __sxtb16(v2), __sxtb16(v3), __sxtb16(v4), __sxtb16(v5),
                      __sxtb16(v6), __sxtb16(v7), __sxtb16(v8), dst, stride);
            transform(ts_armv7em_sxtb16_ror8(v0), ts_armv7em_sxtb16_ror8(v1), ts_armv7em_sxtb16_ror8(v2),
                      ts_armv7em_sxtb16_ror8(v3), ts_armv7em_sxtb16_ror8(v4), ts_armv7em_sxtb16_ror8(v5),
                      ts_armv7em_sxtb16_ror8(v6), ts_armv7em_sxtb16_ror8(v7), ts_armv7em_sxtb16_ror8(v8), dst + 1,
                      stride);
        }
    }
}
