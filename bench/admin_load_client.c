/* The clients of bench/run-admin-load.sh, in one thread with libcurl's multi
 * interface: N keep-alive connections, each alternating GET /api/v1/status
 * and GET /api/v1/review with a bearer token and sleeping INTERVAL_MS between
 * calls, until the owner goes away (a connection refused). One event loop and
 * no interpreter: the latencies are the server's and the network's, not a
 * client's scheduling, and the clients cost the relay little CPU.
 *
 *   admin_load_client PORT_FILE TOKEN N INTERVAL_MS OUT
 *
 * OUT: the number of non-200 answers, then one latency (ms) per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

typedef struct {
    CURL *h;
    int k;               /* calls made: even status, odd review */
    double next_ms;      /* when to start the next call (0: running) */
    double started_ms;
} client;

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: admin_load_client PORT_FILE TOKEN N INTERVAL_MS OUT\n");
        return 2;
    }
    int port = 0;
    while (port <= 0) {
        FILE *f = fopen(argv[1], "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port <= 0)
            usleep(5000);
    }
    int n = atoi(argv[3]);
    double interval = atof(argv[4]);
    char auth[600], url[2][128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
    snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%d/api/v1/status", port);
    snprintf(url[1], sizeof(url[1]), "http://127.0.0.1:%d/api/v1/review", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    CURLM *m = curl_multi_init();
    client *c = calloc((size_t)n, sizeof(*c));
    size_t cap = 1 << 16, nlat = 0;
    double *lat = malloc(cap * sizeof(*lat));
    long errors = 0;
    int stop = 0, running = 0;
    for (int i = 0; i < n; i++) {
        c[i].h = curl_easy_init();
        c[i].k = i;
        curl_easy_setopt(c[i].h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c[i].h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c[i].h, CURLOPT_PRIVATE, &c[i]);
        curl_easy_setopt(c[i].h, CURLOPT_TIMEOUT, 10L);
        c[i].next_ms = now_ms();
    }
    while (!stop || running) {
        double t = now_ms();
        for (int i = 0; i < n && !stop; i++)
            if (c[i].next_ms > 0 && c[i].next_ms <= t) {
                curl_easy_setopt(c[i].h, CURLOPT_URL, url[c[i].k % 2]);
                c[i].next_ms = 0;
                c[i].started_ms = t;
                curl_multi_add_handle(m, c[i].h);
                running++;
            }
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            client *cl;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&cl);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            double done = now_ms();
            curl_multi_remove_handle(m, msg->easy_handle);
            running--;
            if (msg->data.result != CURLE_OK) {
                stop = 1;   /* the owner ended with its relay */
                continue;
            }
            if (code != 200) {
                errors++;
            } else {
                if (nlat == cap)
                    lat = realloc(lat, (cap *= 2) * sizeof(*lat));
                lat[nlat++] = done - cl->started_ms;
            }
            cl->k++;
            cl->next_ms = done + interval;
        }
        /* Wake for I/O, or for the next client due to start. */
        double t2 = now_ms(), wake = t2 + 50;
        for (int i = 0; i < n; i++)
            if (c[i].next_ms > 0 && c[i].next_ms < wake)
                wake = c[i].next_ms;
        int ms = (int)(wake - t2);
        curl_multi_poll(m, NULL, 0, ms > 0 ? ms : 0, NULL);
    }
    FILE *o = fopen(argv[5], "w");
    if (o == NULL)
        return 1;
    fprintf(o, "%ld\n", errors);
    for (size_t i = 0; i < nlat; i++)
        fprintf(o, "%.3f\n", lat[i]);
    fclose(o);
    for (int i = 0; i < n; i++)
        curl_easy_cleanup(c[i].h);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    free(c);
    free(lat);
    return 0;
}
