/* Copied unchanged (but for this line) from the team's tool /work/shared/tools/dnsblast.c (see /work/shared/tools/README.md). */
/* dnsblast: a small single-threaded UDP DNS load generator for loopback benchmarks.
 *
 * Why: on a 2-core box dnsperf (one thread, one core) tops out near the speed of a
 * trivial echo responder, so it cannot saturate a fast authoritative server.  This
 * tool uses connected sockets + sendmmsg/recvmmsg batches to push several times more
 * queries from one core.  It keeps a fixed number of queries outstanding (closed loop,
 * like dnsperf -q) and prints dnsperf's "Statistics" block so the same parser works.
 *
 *   gcc -O2 -o dnsblast dnsblast.c
 *   dnsblast -s 127.0.0.1 -p 5302 -d queries.txt -l 15 -c 8 -q 256 [-t 1] [-b 32] [-e]
 *
 * Query file: dnsperf format, one "name TYPE" per line; queries are used round-robin.
 * An optional third column "ADDR/PREFIX" (IPv4 or IPv6) adds an EDNS Client Subnet option
 * (RFC 7871) to that query, so one file can spread queries over many client subnets.
 * -e adds an EDNS0 OPT record (udp size 1232) to every query.  Queries are sent with RD=1
 * like dnsperf.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXSOCK 256
#define MAXBATCH 128
#define QMAX 512

typedef struct {
    int fd;
    uint64_t ts[65536]; /* send time (ns) of outstanding id, 0 = free */
    uint16_t next_id, oldest;
    int inflight;
} sock_t;

#define NQMAX 16384
static uint8_t qwire[NQMAX][QMAX];
static int qlen[NQMAX], nq;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int qtype_of(const char *s) {
    static const struct { const char *n; int v; } m[] = {
        {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
        {"AAAA", 28}, {"SRV", 33}, {"DS", 43}, {"DNSKEY", 48}, {"HTTPS", 65}, {"CAA", 257}, {"ANY", 255}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (!strcasecmp(s, m[i].n)) return m[i].v;
    if (!strncasecmp(s, "TYPE", 4)) return atoi(s + 4);
    return -1;
}

/* Encodes one query; ecs (may be NULL) is "ADDR/PREFIX" and implies an OPT record. */
static int encode(uint8_t *w, const char *name, int qt, int edns, const char *ecs) {
    uint8_t ecs_opt[4 + 4 + 16];
    int ecs_len = 0;
    if (ecs) {
        char a[64];
        const char *slash = strchr(ecs, '/');
        if (!slash || slash - ecs >= (int)sizeof a) return -1;
        memcpy(a, ecs, (size_t)(slash - ecs));
        a[slash - ecs] = 0;
        int prefix = atoi(slash + 1);
        uint8_t addr[16];
        int family;
        if (inet_pton(AF_INET, a, addr) == 1) family = 1;
        else if (inet_pton(AF_INET6, a, addr) == 1) family = 2;
        else return -1;
        if (prefix < 0 || prefix > (family == 1 ? 32 : 128)) return -1;
        int octets = (prefix + 7) / 8;
        if (prefix % 8) addr[octets - 1] &= (uint8_t)(0xff << (8 - prefix % 8)); /* RFC 7871 6: no bits beyond SOURCE */
        ecs_opt[0] = 0; ecs_opt[1] = 8;                          /* OPTION-CODE 8 */
        ecs_opt[2] = 0; ecs_opt[3] = (uint8_t)(4 + octets);       /* OPTION-LENGTH */
        ecs_opt[4] = 0; ecs_opt[5] = (uint8_t)family;
        ecs_opt[6] = (uint8_t)prefix; ecs_opt[7] = 0;             /* SOURCE, SCOPE 0 */
        memcpy(ecs_opt + 8, addr, (size_t)octets);
        ecs_len = 8 + octets;
        edns = 1;
    }
    int n = 12;
    memset(w, 0, 12);
    w[2] = 0x01;                 /* RD */
    w[5] = 1;                    /* QDCOUNT */
    if (edns) w[11] = 1;         /* ARCOUNT */
    const char *p = name;
    while (*p && !(p[0] == '.' && p[1] == 0)) {
        const char *dot = strchr(p, '.');
        int l = dot ? (int)(dot - p) : (int)strlen(p);
        if (l <= 0 || l > 63 || n + l + 1 > QMAX - 60) return -1;
        w[n++] = (uint8_t)l;
        memcpy(w + n, p, (size_t)l);
        n += l;
        p += l;
        if (*p == '.') p++;
    }
    w[n++] = 0;
    w[n++] = (uint8_t)(qt >> 8); w[n++] = (uint8_t)qt;
    w[n++] = 0; w[n++] = 1;      /* IN */
    if (edns) {                  /* OPT: root, type 41, udp 1232, ttl 0, rdlen */
        uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, (uint8_t)ecs_len};
        memcpy(w + n, opt, 11);
        n += 11;
        memcpy(w + n, ecs_opt, (size_t)ecs_len);
        n += ecs_len;
    }
    return n;
}

static void usage(void) {
    fprintf(stderr, "usage: dnsblast -s ADDR -p PORT -d FILE [-l SECS=10] [-c SOCKETS=8] [-q OUTSTANDING=256] [-t TIMEOUT_S=1] [-b BATCH=32] [-e]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *file = NULL;
    int port = 53, nsock = 8, outstanding = 256, batch = 32, edns = 0, opt;
    double secs = 10, timeout = 1;
    while ((opt = getopt(argc, argv, "s:p:d:l:c:q:t:b:e")) != -1) {
        switch (opt) {
        case 's': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'd': file = optarg; break;
        case 'l': secs = atof(optarg); break;
        case 'c': nsock = atoi(optarg); break;
        case 'q': outstanding = atoi(optarg); break;
        case 't': timeout = atof(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'e': edns = 1; break;
        default: usage();
        }
    }
    if (!file || nsock < 1 || nsock > MAXSOCK || batch < 1 || batch > MAXBATCH || outstanding < nsock) usage();
    FILE *f = fopen(file, "r");
    if (!f) { perror(file); return 1; }
    char line[1024], nm[600], ty[64], ecs[80];
    while (nq < NQMAX && fgets(line, sizeof line, f)) {
        int fields = sscanf(line, "%599s %63s %79s", nm, ty, ecs);
        if (fields < 2 || nm[0] == '#') continue;
        int qt = qtype_of(ty);
        if (qt < 0 || (qlen[nq] = encode(qwire[nq], nm, qt, edns, fields == 3 ? ecs : NULL)) < 0) { fprintf(stderr, "bad query line: %s", line); continue; }
        nq++;
    }
    fclose(f);
    if (!nq) { fprintf(stderr, "no queries in %s\n", file); return 1; }

    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 1; }
    sock_t *S = calloc((size_t)nsock, sizeof(sock_t));
    struct pollfd *pfd = calloc((size_t)nsock, sizeof(struct pollfd));
    int win = outstanding / nsock;
    for (int i = 0; i < nsock; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        int sz = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("socket/connect"); return 1; }
        S[i].fd = fd;
        S[i].next_id = (uint16_t)(i * 7919);
        S[i].oldest = S[i].next_id;
        pfd[i].fd = fd;
        pfd[i].events = POLLIN;
    }

    static uint8_t sbuf[MAXBATCH][QMAX], rbuf[MAXBATCH][1500];
    struct mmsghdr smsg[MAXBATCH], rmsg[MAXBATCH];
    struct iovec siov[MAXBATCH], riov[MAXBATCH];
    uint16_t sid[MAXBATCH];
    memset(smsg, 0, sizeof smsg);
    memset(rmsg, 0, sizeof rmsg);
    for (int i = 0; i < MAXBATCH; i++) {
        siov[i].iov_base = sbuf[i]; smsg[i].msg_hdr.msg_iov = &siov[i]; smsg[i].msg_hdr.msg_iovlen = 1;
        riov[i].iov_base = rbuf[i]; riov[i].iov_len = 1500;
        rmsg[i].msg_hdr.msg_iov = &riov[i]; rmsg[i].msg_hdr.msg_iovlen = 1;
    }

    uint64_t sent = 0, completed = 0, lost = 0, rcodes[16] = {0}, req_bytes = 0, resp_bytes = 0;
    double lat_sum = 0, lat_sq = 0, lat_min = 1e9, lat_max = 0;
    uint64_t tmo = (uint64_t)(timeout * 1e9), qi = 0;
    uint64_t t0 = now_ns(), tend = t0 + (uint64_t)(secs * 1e9), tsend_end = 0, drain_end = 0;
    int sending = 1;
    for (;;) {
        uint64_t now = now_ns();
        if (sending && now >= tend) { sending = 0; tsend_end = now; drain_end = now + tmo; }
        if (!sending) {
            int left = 0;
            for (int i = 0; i < nsock; i++) left += S[i].inflight;
            if (!left || now >= drain_end) break;
        }
        int progress = 0;
        if (sending) {
            for (int i = 0; i < nsock; i++) {
                sock_t *s = &S[i];
                int n = win - s->inflight;
                if (n > batch) n = batch;
                int k = 0;
                for (; k < n; k++) {
                    uint16_t id = s->next_id;
                    if (s->ts[id]) break; /* id still outstanding (wrapped): wait */
                    s->next_id++;
                    const uint8_t *q = qwire[qi % (uint64_t)nq];
                    int l = qlen[qi % (uint64_t)nq];
                    qi++;
                    memcpy(sbuf[k], q, (size_t)l);
                    sbuf[k][0] = (uint8_t)(id >> 8); sbuf[k][1] = (uint8_t)id;
                    siov[k].iov_len = (size_t)l;
                    sid[k] = id;
                }
                if (!k) continue;
                int r = sendmmsg(s->fd, smsg, (unsigned)k, MSG_DONTWAIT);
                if (r < 0) r = 0;
                for (int j = 0; j < r; j++) { s->ts[sid[j]] = now; req_bytes += siov[j].iov_len; }
                /* ids not sent go back: rewind next_id (they were consecutive) */
                s->next_id = (uint16_t)(s->next_id - (k - r));
                s->inflight += r;
                sent += (uint64_t)r;
                if (r) progress = 1;
            }
        }
        for (int i = 0; i < nsock; i++) {
            sock_t *s = &S[i];
            for (int j = 0; j < batch; j++) riov[j].iov_len = 1500;
            int r = recvmmsg(s->fd, rmsg, (unsigned)batch, MSG_DONTWAIT, NULL);
            if (r <= 0) continue;
            progress = 1;
            uint64_t t = now_ns();
            for (int j = 0; j < r; j++) {
                if (rmsg[j].msg_len < 12) continue;
                uint16_t id = (uint16_t)(rbuf[j][0] << 8 | rbuf[j][1]);
                uint64_t ts = s->ts[id];
                if (!ts) continue; /* late or unknown */
                s->ts[id] = 0;
                s->inflight--;
                completed++;
                rcodes[rbuf[j][3] & 15]++;
                resp_bytes += rmsg[j].msg_len;
                double l = (double)(t - ts) / 1e9;
                lat_sum += l; lat_sq += l * l;
                if (l < lat_min) lat_min = l;
                if (l > lat_max) lat_max = l;
            }
        }
        /* expire timed-out queries (ids are issued in send order per socket) */
        for (int i = 0; i < nsock; i++) {
            sock_t *s = &S[i];
            while (s->oldest != s->next_id) {
                uint64_t ts = s->ts[s->oldest];
                if (ts && now - ts < tmo) break;
                if (ts) { s->ts[s->oldest] = 0; s->inflight--; lost++; }
                s->oldest++;
            }
        }
        if (!progress) poll(pfd, (nfds_t)nsock, 1);
    }
    for (int i = 0; i < nsock; i++) lost += (uint64_t)S[i].inflight;
    double run = (double)(tsend_end - t0) / 1e9;
    static const char *rn[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
                                 "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15"};
    printf("DNS load generator dnsblast\n\nStatistics:\n\n");
    printf("  Queries sent:         %llu\n", (unsigned long long)sent);
    printf("  Queries completed:    %llu (%.2f%%)\n", (unsigned long long)completed, sent ? 100.0 * completed / sent : 0);
    printf("  Queries lost:         %llu (%.2f%%)\n\n", (unsigned long long)lost, sent ? 100.0 * lost / sent : 0);
    printf("  Response codes:       ");
    int first = 1;
    for (int i = 0; i < 16; i++)
        if (rcodes[i]) { printf("%s%s %llu (%.2f%%)", first ? "" : ", ", rn[i], (unsigned long long)rcodes[i], 100.0 * rcodes[i] / completed); first = 0; }
    printf("\n  Average packet size:  request %llu, response %llu\n", sent ? (unsigned long long)(req_bytes / sent) : 0,
           completed ? (unsigned long long)(resp_bytes / completed) : 0);
    printf("  Run time (s):         %.6f\n", run);
    printf("  Queries per second:   %.6f\n\n", run > 0 ? completed / run : 0);
    double avg = completed ? lat_sum / completed : 0;
    double sd = completed > 1 ? sqrt(fmax(0, (lat_sq - lat_sum * lat_sum / completed) / (completed - 1))) : 0;
    printf("  Average Latency (s):  %.6f (min %.6f, max %.6f)\n", avg, completed ? lat_min : 0, lat_max);
    printf("  Latency StdDev (s):   %.6f\n\n", sd);
    return 0;
}
