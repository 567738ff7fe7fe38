-- wrk script: GET with the bench's API key (BENCH_KEY), reported in the bench's format.
-- "-- gzip" asks for the gzip answer, as most HTTP clients do.
wrk.headers["X-Api-Key"] = os.getenv("BENCH_KEY")

init = function(args)
  if args[1] == "gzip" then wrk.headers["Accept-Encoding"] = "gzip" end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
