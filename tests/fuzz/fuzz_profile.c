/* libFuzzer harness for host profiles (profile_load, bench/host/profile.h): a profile is an INI
 * file that may come from anyone, so any bytes must be accepted or rejected with a message naming
 * the file, never crash or read out of bounds. An accepted profile has its required fields (a
 * host name, a cost kind, an as_of date) and finite figures; calibrated [projection] figures
 * carry their source and date.
 * Build and run: make fuzz (seeds in tests/fuzz/corpus/profile, dictionary profile.dict). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "bench/host/profile.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gc_profile p;
    gc_err err = {{0}};
    if (profile_load(fuzz_as_file(data, size), &p, &err)) {
        if (!err.msg[0]) __builtin_trap();
        return 0;
    }
    if (!p.name[0] || !p.as_of[0]) __builtin_trap();
    if (!profile_kind_name(p.kind)) __builtin_trap();
    const double figs[] = {p.mem_bw_gbs, p.mem_gb, p.peak_tflops_fp32, p.peak_tflops_fp16, p.peak_tops_int8,
                           p.idle_watts, p.active_watts, p.purchase_usd, p.lifetime_years, p.hours_per_day,
                           p.usd_per_kwh, p.gco2_per_kwh, p.monthly_usd, p.units_per_month,
                           p.units_per_hour, p.usd_per_hour, p.usd_per_m_input, p.usd_per_m_output,
                           p.usd_per_image, p.out_tokens_per_s, p.first_token_s, p.bw_efficiency,
                           p.compute_efficiency, p.compute_efficiency_fp16, p.compute_efficiency_int8,
                           p.per_token_s, p.cpu_peak_tflops_fp32, p.cpu_peak_tops_int8,
                           p.extra_usd_per_unit, p.billing_increment_s, p.session_setup_s,
                           p.jobs_per_session};
    /* calibrated figures come with their source and date; efficiencies stay in (0, 1] */
    if (p.calibrated && (!p.proj_source[0] || !p.proj_as_of[0])) __builtin_trap();
    if (!(p.bw_efficiency > 0 && p.bw_efficiency <= 1) || !(p.compute_efficiency_fp16 > 0)) __builtin_trap();
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++)
        if (!isfinite(figs[i])) __builtin_trap();
    return 0;
}
