/*
 * Throughput of hp_parse_request on a realistic browser request and on a
 * minimal one. Each case runs for a fixed time (default 2 s, or argv[1]
 * seconds) and prints a Markdown table of requests/s and MB/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parser.h"

/* A Chrome-like navigation: 12 header fields with cookies, ~700 bytes. */
static const char browser_req[] =
    "GET /blog/2024/03/kitty.html?ref=home HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9,fr;q=0.8\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n"
    "\r\n";

static const char minimal_req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/* Returns the monotonic clock in seconds. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns nothing; parses req for about secs seconds and prints a table row. */
static void bench(const char *label, const char *req, size_t len, double secs) {
  hp_header hdrs[32];
  hp_request r;
  int status = 0;
  memset(&r, 0, sizeof r);
  r.headers = hdrs;
  r.num_headers = 32;
  if (hp_parse_request(req, len, &r, NULL, &status) != (int)len) {
    fprintf(stderr, "bench request \"%s\" does not parse (status %d)\n", label, status);
    exit(1);
  }
  unsigned long long n = 0;
  volatile int sink = 0;
  double start = now(), elapsed;
  do {
    /* Check the clock every 4096 parses to keep its cost out of the loop. */
    for (int i = 0; i < 4096; i++) {
      r.num_headers = 32;
      sink += hp_parse_request(req, len, &r, NULL, &status);
    }
    n += 4096;
    elapsed = now() - start;
  } while (elapsed < secs);
  (void)sink;
  double rps = (double)n / elapsed;
  printf("| %-26s | %5zu | %7zu | %12.0f | %8.1f | %7.1f |\n", label, len, r.num_headers, rps,
         rps * (double)len / 1e6, 1e9 / rps);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  if (secs <= 0) secs = 2.0;
  printf("| request                    | bytes | headers |   requests/s |     MB/s | ns/req |\n");
  printf("|----------------------------|------:|--------:|-------------:|---------:|-------:|\n");
  bench("browser (Chrome-like GET)", browser_req, sizeof browser_req - 1, secs);
  bench("minimal GET", minimal_req, sizeof minimal_req - 1, secs);
  return 0;
}
