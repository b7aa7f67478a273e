/* actsearch's C entry points for the fused population kernels: actsearch_forward,
   actsearch_forward_grad and actsearch_backward (documented in space._c_source), which split a
   population's elements into work items and run each member's kernels on them.

   Not #included: space._c_source copies this file to the end of each generated translation
   unit, after the tables it dispatches through (FWD, FWD_GRAD, BWD: one kernel per expression,
   one backward kernel per parameter count) and the defines ITEM_ELEMENTS, MAX_PARAMS,
   AS_CHANNELS_LAST and AS_DP_SLOTS. */

enum { AS_VALUE, AS_VALUE_GRAD, AS_BACKWARD };

typedef struct {
    const float *x, *gy; float *y, *d, *dp, *gx;
    const int64_t *layout, *params; const int32_t *kinds;
    float *partials; int64_t items_per_member, rows_per_item, n_items, numel;
    int mode, threads;
} as_job;

/* One contiguous run of n elements at `at`; c: its channel where runs are per channel. */
static void as_run(const as_job *job, int kind, int64_t at, int64_t n, int64_t c,
                   const float *const *P, float *const *G) {
    float *DP[MAX_PARAMS] = {0};  /* the runs of the local parameter derivatives: slot k at k * numel */
    for (int k = 0; k < AS_DP_SLOTS; k++) DP[k] = job->dp + k * job->numel + at;
    switch (job->mode) {
    case AS_VALUE: FWD[kind](job->x + at, job->y + at, n, P, c); break;
    case AS_VALUE_GRAD: FWD_GRAD[kind](job->x + at, job->y + at, job->d + at, DP, n, P, c); break;
    default: BWD[kind](job->gy + at, job->d + at, (const float *const *)DP, job->gx + at, n, c, G);
    }
}

static void as_run_item(const as_job *job, int64_t item) {
    const int64_t *L = job->layout;
    int64_t O = L[1], stride_o = L[2], member_stride = L[3], R = L[4], C = L[5], I = L[6];
    int64_t m = item / job->items_per_member, chunk = item % job->items_per_member;
    int64_t rows = O * R, lo = chunk * job->rows_per_item;
    int64_t hi = lo + job->rows_per_item < rows ? lo + job->rows_per_item : rows;
    int kind = job->kinds[m];
    const float *const *P = job->params ? (const float *const *)(job->params + m * MAX_PARAMS) : 0;
    float *G[MAX_PARAMS] = {0};
    if (job->partials)  /* the backward pass: this item's own slice of parameter gradients */
        for (int k = 0; k < MAX_PARAMS; k++) G[k] = job->partials + (item * MAX_PARAMS + k) * C;
    for (int64_t row = lo; row < hi; row++) {
        int64_t base = m * member_stride + (row / R) * stride_o + (row % R) * C * I;
#if AS_CHANNELS_LAST  /* I == 1: one run over the channels, parameter k of element c is P[k][c] */
        (void)I;
        as_run(job, kind, base, C, 0, P, G);
#else  /* channels first: a run over the inner elements of each channel c, one parameter value */
        for (int64_t c = 0; c < C; c++) as_run(job, kind, base + c * I, I, c, P, G);
#endif
    }
}

/* OpenMP: linked as libgomp.so.1, the library PyTorch's CPU build already loaded, so these
   are PyTorch's own intra-op threads. (Threads of our own fought with PyTorch's, which spin
   for a while after every parallel operator: the kernels ran 3x slower inside a training step.)
   Each item writes only its own outputs, so the schedule changes nothing in the results. */
static void as_launch(const as_job *job) {
    int threads = job->threads < 1 ? 1 : job->threads;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && job->n_items > 1)
    for (int64_t item = 0; item < job->n_items; item++) as_run_item(job, item);
}

static as_job as_plan(int mode, const int64_t *layout, const int32_t *kinds, int threads) {
    as_job job; memset(&job, 0, sizeof job);
    job.mode = mode; job.layout = layout; job.kinds = kinds; job.threads = threads;
    int64_t rows = layout[1] * layout[4], run = layout[5] * layout[6];
    int64_t per = run > 0 ? ITEM_ELEMENTS / run : 1;
    job.rows_per_item = per < 1 ? 1 : per;
    job.items_per_member = rows > 0 ? (rows + job.rows_per_item - 1) / job.rows_per_item : 0;
    job.n_items = layout[0] * job.items_per_member;
    job.numel = layout[1] * layout[2];
    return job;
}

void actsearch_forward(const float *x, float *y, const int64_t *layout, const int32_t *kinds,
                       const int64_t *params, int threads) {
    as_job job = as_plan(AS_VALUE, layout, kinds, threads);
    job.x = x; job.y = y; job.params = params;
    if (job.n_items > 0) as_launch(&job);
}

void actsearch_forward_grad(const float *x, float *y, float *d, float *dp, const int64_t *layout,
                            const int32_t *kinds, const int64_t *params, int threads) {
    as_job job = as_plan(AS_VALUE_GRAD, layout, kinds, threads);
    job.x = x; job.y = y; job.d = d; job.dp = dp; job.params = params;
    if (job.n_items > 0) as_launch(&job);
}

/* Parameter gradients: each item sums into its own slice of `partials`, then the slices are
   added per member in item order, so the sum does not depend on the number of threads. */
int actsearch_backward(const float *gy, const float *d, const float *dp, float *gx, const int64_t *layout,
                       const int32_t *kinds, const int64_t *param_grads, int threads) {
    as_job job = as_plan(AS_BACKWARD, layout, kinds, threads);
    job.gy = gy; job.d = (float *)d; job.dp = (float *)dp; job.gx = gx;  /* read only here */
    int64_t C = layout[5];
    if (AS_DP_SLOTS > 0) {
        job.partials = calloc((size_t)(job.n_items * MAX_PARAMS * C + 1), sizeof(float));
        if (!job.partials) return -1;
    }
    if (job.n_items > 0) as_launch(&job);
    for (int64_t m = 0; m < layout[0] && job.partials; m++) {
        for (int k = 0; k < MAX_PARAMS; k++) {
            float *out = (float *)(intptr_t)param_grads[m * MAX_PARAMS + k];
            if (!out) continue;
            for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
            for (int64_t i = 0; i < job.items_per_member; i++) {
                const float *part = job.partials + ((m * job.items_per_member + i) * MAX_PARAMS + k) * C;
                for (int64_t c = 0; c < C; c++) out[c] += part[c];
            }
        }
    }
    free(job.partials);
    return 0;
}
