/* Private helper of the element-wise binary kernels: walks the output of a broadcast op row by row.
 * TS_BROADCAST_ROWS(shape, ROW) calls ROW(off1, s1, off2, s2, out_off, n) for every innermost row of
 * n = dims[5] elements, where off1/off2 are the element offsets of the row in the two inputs and s1/s2
 * their innermost strides (0 when broadcast). */
#ifndef TS_NN_BROADCAST_H
#define TS_NN_BROADCAST_H

#include "ts/nn.h"

#define TS_BROADCAST_ROWS(shape, ROW)                                                                   \
    do {                                                                                              \
        const ts_broadcast_t *bs_ = (shape);                                                          \
        int32_t idx_[TS_NN_MAX_DIMS - 1] = {0, 0, 0, 0, 0};                                           \
        int32_t o1_ = 0, o2_ = 0, oo_ = 0;                                                            \
        const int32_t n_ = bs_->dims[TS_NN_MAX_DIMS - 1];                                             \
        int32_t rows_ = 1;                                                                            \
        for (int d_ = 0; d_ < TS_NN_MAX_DIMS - 1; d_++) rows_ *= bs_->dims[d_];                      \
        for (int32_t r_ = 0; r_ < rows_; r_++) {                                                      \
            ROW(o1_, bs_->stride1[TS_NN_MAX_DIMS - 1], o2_, bs_->stride2[TS_NN_MAX_DIMS - 1], oo_, n_); \
            oo_ += n_;                                                                                \
            for (int d_ = TS_NN_MAX_DIMS - 2; d_ >= 0; d_--) { /* odometer over the outer dims */      \
                o1_ += bs_->stride1[d_];                                                              \
                o2_ += bs_->stride2[d_];                                                              \
                if (++idx_[d_] < bs_->dims[d_]) break;                                                \
                o1_ -= bs_->stride1[d_] * bs_->dims[d_];                                              \
                o2_ -= bs_->stride2[d_] * bs_->dims[d_];                                              \
                idx_[d_] = 0;                                                                         \
            }                                                                                         \
        }                                                                                             \
    } while (0)

#endif /* TS_NN_BROADCAST_H */
