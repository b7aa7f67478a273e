/* actsearch's C runtime for the fused population kernels: the maths every operator's C form
   (space._operators, space._c_form) may call, and the kernels' function types.

   Not #included: space._c_source copies this file into each generated translation unit, after
   its first line and before the operators' own helpers, so the source that keys the kernel
   cache (evaluator._fused) is the whole program. It takes nothing from Python (the guards'
   constants are in the operators' helpers); the generated code defines ITEM_ELEMENTS,
   MAX_PARAMS, AS_CHANNELS_LAST and AS_DP_SLOTS for actsearch_dispatch.h. The CUDA kernel has
   its own runtime, the same helpers as lambdas: actsearch_runtime_cuda.inc. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* glibc's vector maths library (libmvec) has SIMD variants of these; declaring them lets GCC
   vectorise the loops without -ffast-math (which would also drop NaN/inf semantics). They are
   declared under other C names for the same symbols: as builtins, GCC would merge sinf(x) and
   cosf(x) into a sincosf call that has no vector variant, and the loop would stay scalar. */
#define AS_SIMD __attribute__((simd("notinbranch"), const, nothrow))
#define AS_MATH(name) AS_SIMD float as_##name(float) __asm__(#name);
AS_MATH(expf) AS_MATH(logf) AS_MATH(log1pf) AS_MATH(expm1f) AS_MATH(sinf) AS_MATH(cosf)
AS_MATH(sinhf) AS_MATH(coshf) AS_MATH(tanhf) AS_MATH(asinhf) AS_MATH(atanf) AS_MATH(erff)
#define expf as_expf
#define logf as_logf
#define log1pf as_log1pf
#define expm1f as_expm1f
#define sinf as_sinf
#define cosf as_cosf
#define sinhf as_sinhf
#define coshf as_coshf
#define tanhf as_tanhf
#define asinhf as_asinhf
#define atanf as_atanf
#define erff as_erff

/* always inlined: in a translation unit of many candidates GCC's unit-growth limits stopped
   inlining them, and a loop that calls a helper stays scalar */
#define AS_INLINE static inline __attribute__((always_inline))
/* NaN where x is NaN, else 0: added to a result it propagates NaN inputs. (A select between x
   and the result would let GCC move the maths calls into a branch and not vectorise.) */
#define AS_NAN_OF(x) ((x) != (x) ? (x) : 0.0f)

/* c ? a : b with both evaluated, as a bit blend: a ternary around a maths call became a branch
   (a scalar loop), and ternary selects next to maths calls became masked code up to 40x slower */
AS_INLINE float as_select(int c, float a, float b) {
    uint32_t m = -(uint32_t)(c != 0), ia, ib, r;
    float out;
    memcpy(&ia, &a, 4); memcpy(&ib, &b, 4);
    r = (ia & m) | (ib & ~m);
    memcpy(&out, &r, 4);
    return out;
}
/* min/max as selects: fminf/fmaxf carry NaN rules that GCC compiles to branches (NaN inputs are
   handled once, by AS_NAN_OF) */
AS_INLINE float as_min(float a, float b) { return as_select(a < b, a, b); }
AS_INLINE float as_max(float a, float b) { return as_select(a > b, a, b); }
AS_INLINE float as_clamp(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
/* torch.clamp's gradient: passed on the closed interval, 0 outside */
AS_INLINE float as_in(float v, float lo, float hi, float grad) { return as_select((v >= lo) & (v <= hi), grad, 0.0f); }
/* libmvec's vector expf and expm1f compute lanes beyond +-87.33 in scalar code, 15-25x slower
   (0.3 against 4-8 ns per element, measured): one such lane slows its whole vector, and
   exp(-x^2) gets there for |x| > 9.4. as_exp keeps expf's argument within +-86 by a shift of
   24 and scales the result back (so it still gives denormals below -87, 0 below -104, inf
   above 88.7, like torch.exp); as_expm1 is only selected where x <= 0, so it clamps above. */
AS_INLINE float as_exp(float x) {
    float c = as_select(x < -110.0f, -110.0f, as_select(x > 110.0f, 110.0f, x));  /* exp is 0 or inf beyond */
    int low = c < -80.0f, high = c > 80.0f;
    float shift = as_select(low, 24.0f, as_select(high, -24.0f, 0.0f));
    float scale = as_select(low, ((float)3.775134544279098e-11), as_select(high, ((float)26489122129.84347), 1.0f));
    return expf(c + shift) * scale;
}
AS_INLINE float as_expm1(float x) { return expm1f(as_min(x, 80.0f)); }
AS_INLINE float as_sign(float v) { return (v > 0.0f ? 1.0f : 0.0f) - (v < 0.0f ? 1.0f : 0.0f); }
AS_INLINE float as_sigmoid(float v) { return 1.0f / (1.0f + as_exp(-v)); }

typedef void (*fwd_fn)(const float *restrict, float *restrict, int64_t, const float *const *, int64_t);
typedef void (*fwd_grad_fn)(const float *restrict, float *restrict, float *restrict, float *const *, int64_t,
                            const float *const *, int64_t);
typedef void (*bwd_fn)(const float *restrict, const float *restrict, const float *const *, float *restrict,
                       int64_t, int64_t, float *const *);
