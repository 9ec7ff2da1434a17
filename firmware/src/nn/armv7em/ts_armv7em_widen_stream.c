/* Support function of the Armv7E-M convolutions' widened variants (ts_conv_widened_s8, ts_conv_1x1_widened_s8):
 * channel pairs of the layer's int8 stream ("s8 2ch x k4 + rq", flash) -> the int16 one ("s16 2ch x k4 + rq",
 * the kernel's scratch). Per channel pair: the bias pair times fold, each group's two int8 words as the four
 * int16 pairs c0(k0,k2) c0(k1,k3) c1(k0,k2) c1(k1,k3) times fold (SXTB16, SXTB16 ROR 8, then SADD16 of each with
 * itself for fold 2: the doubling of the fast records, which the compiler checked fits), the two records
 * copied. The groups in assembly, two per pass: LDM of 4 words, 8 SXTB16 (+ 8 SADD16), 2 STM. */
#include "ts/nn.h"
#include "ts_armv7em.h"

/* n groups (two int8 words each) from *src to *dst (four words each), times 2 when dbl. */
static void groups(const int32_t **src, int32_t **dst, int32_t n, int32_t dbl)
{
    register const int32_t *s __asm__("r0") = *src;
    register int32_t *d __asm__("r1") = *dst;
    register int32_t k __asm__("r2") = n >> 1;
    register int32_t f __asm__("r3") = dbl;
    if (k > 0) {
        __asm__ volatile(
            "cmp %[f], #0\n\t"
            "beq 2f\n"
            "1:\n\t"                              /* doubled */
            "ldm %[s]!, {r4, r5, r6, r7}\n\t"
            "sxtb16 r8, r4\n\t"
            "sxtb16 r9, r4, ror #8\n\t"
            "sxtb16 r10, r5\n\t"
            "sxtb16 r11, r5, ror #8\n\t"
            "sadd16 r8, r8, r8\n\t"
            "sadd16 r9, r9, r9\n\t"
            "sadd16 r10, r10, r10\n\t"
            "sadd16 r11, r11, r11\n\t"
            "stm %[d]!, {r8, r9, r10, r11}\n\t"
            "sxtb16 r8, r6\n\t"
            "sxtb16 r9, r6, ror #8\n\t"
            "sxtb16 r10, r7\n\t"
            "sxtb16 r11, r7, ror #8\n\t"
            "sadd16 r8, r8, r8\n\t"
            "sadd16 r9, r9, r9\n\t"
            "sadd16 r10, r10, r10\n\t"
            "sadd16 r11, r11, r11\n\t"
            "stm %[d]!, {r8, r9, r10, r11}\n\t"
            "subs %[k], %[k], #1\n\t"
            "bne 1b\n\t"
            "b 3f\n"
            "2:\n\t"                              /* as they are */
            "ldm %[s]!, {r4, r5, r6, r7}\n\t"
            "sxtb16 r8, r4\n\t"
            "sxtb16 r9, r4, ror #8\n\t"
            "sxtb16 r10, r5\n\t"
            "sxtb16 r11, r5, ror #8\n\t"
            "stm %[d]!, {r8, r9, r10, r11}\n\t"
            "sxtb16 r8, r6\n\t"
            "sxtb16 r9, r6, ror #8\n\t"
            "sxtb16 r10, r7\n\t"
            "sxtb16 r11, r7, ror #8\n\t"
            "stm %[d]!, {r8, r9, r10, r11}\n\t"
            "subs %[k], %[k], #1\n\t"
            "bne 2b\n"
            "3:\n\t"
            : [s] "+r"(s), [d] "+r"(d), [k] "+r"(k)
            : [f] "r"(f)
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    if (n & 1) { /* the last odd group */
        const uint32_t w0 = (uint32_t)s[0], w1 = (uint32_t)s[1];
        uint32_t a = __sxtb16(w0), b = ts_armv7em_sxtb16_ror8(w0), c = __sxtb16(w1), e = ts_armv7em_sxtb16_ror8(w1);
        if (dbl) a = __sadd16(a, a), b = __sadd16(b, b), c = __sadd16(c, c), e = __sadd16(e, e);
        d[0] = (int32_t)a, d[1] = (int32_t)b, d[2] = (int32_t)c, d[3] = (int32_t)e;
        s += 2, d += 4;
    }
    *src = s;
    *dst = d;
}

void ts_armv7em_widen_stream(const int32_t *src, int32_t pairs, int32_t n4, int32_t fold, int32_t *dst)
{
    for (int32_t pr = 0; pr < pairs; pr++) {
        dst[0] = fold * src[0];
        dst[1] = fold * src[1];
        src += 2, dst += 2;
        groups(&src, &dst, n4, fold == 2);
        for (int32_t i = 0; i < 6; i++) dst[i] = src[i];
        src += 6, dst += 6;
    }
}
