/*
 * Short TCP connections on loopback at a target rate, for benches/bench_kill_events.sh.
 *
 * Python (tests/support/churn.py) tops out near 10,000 connections per second on two
 * shared cores; this does the same thing without the interpreter. One listener on
 * 127.0.0.1, one acceptor process that accepts and closes at once (server-first close:
 * the server side ends in TIME_WAIT, the client side passes CLOSE_WAIT/LAST_ACK), and
 * --workers connector processes that open and close connections, paced to --rate in
 * total (0: as fast as they can). A fraction --rst-fraction of the clients abort with
 * SO_LINGER 0 (an RST) as churn.py does. Clients bind to 127.0.0.2..(1+--src-spread)
 * with IP_BIND_ADDRESS_NO_PORT so the ephemeral ports do not run out.
 *
 * Each completed connection destroys two full sockets (client and server), each a
 * sock_diag destroy event; a failed attempt destroys its client socket.
 *
 * Prints {"ready":true,...} when the churn starts and
 * {"done":true,"connections":N,"errors":E,"seconds":S,"rate":R} at the end.
 * Bounded: --seconds (at most 120), alarm() as a backstop, and the parent's death
 * (PR_SET_PDEATHSIG). Network safety: it only connects to its own listener.
 *
 * Build: cc -O2 -o short_conns benches/short_conns.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "short_conns: %s: %s\n", what, strerror(errno));
    exit(1);
}

struct tally { long done, errors; };

static void acceptor(int lst, double deadline) {
    struct timeval tv = {0, 100000};
    setsockopt(lst, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Past the deadline, keep accepting briefly so late handshakes are closed too. */
    while (!stop && now_s() < deadline + 0.5) {
        int s = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
        if (s >= 0) close(s);
    }
}

static struct tally worker(int port, double rate, double deadline, int spread,
                           double rst_fraction, int index) {
    struct tally t = {0, 0};
    struct linger lg = {1, 0};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t0 = now_s();
    long batch = rate > 0 ? (long)(rate / 100) : 1000;
    if (batch < 1) batch = 1;
    while (!stop) {
        double now = now_s();
        if (now >= deadline) break;
        long n = t.done + t.errors;
        long due = rate > 0 ? (long)((now - t0) * rate) - n : batch;
        if (due <= 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (due > batch) due = batch;
        for (long i = 0; i < due; i++, n++) {
            struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
            src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)((n * 7 + index) % spread));
            int one = 1;
            int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (c < 0) { t.errors++; continue; }
            setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(c, (struct sockaddr *)&src, sizeof src) == 0 &&
                connect(c, (struct sockaddr *)&dst, sizeof dst) == 0) {
                if ((long)((n + 1) * rst_fraction) > (long)(n * rst_fraction))
                    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                t.done++;
            } else {
                t.errors++;
            }
            close(c);
        }
    }
    return t;
}

int main(int argc, char **argv) {
    double rate = 20000, seconds = 10, rst_fraction = 0.25;
    int workers = 2, spread = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--rate")) rate = atof(v);
        else if (!strcmp(k, "--seconds")) seconds = atof(v);
        else if (!strcmp(k, "--workers")) workers = atoi(v);
        else if (!strcmp(k, "--src-spread")) spread = atoi(v);
        else if (!strcmp(k, "--rst-fraction")) rst_fraction = atof(v);
        else { fprintf(stderr, "short_conns: unknown option %s\n", k); return 2; }
    }
    if (argc % 2 == 0) { fprintf(stderr, "short_conns: options take a value\n"); return 2; }
    if (!(seconds > 0 && seconds <= 120) || rate < 0 || workers < 1 || workers > 16 ||
        spread < 1 || spread > 250 || rst_fraction < 0 || rst_fraction > 1) {
        fprintf(stderr, "short_conns: need 0 < --seconds <= 120, --rate >= 0, "
                        "--workers 1..16, --src-spread 1..250, --rst-fraction 0..1\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    alarm((unsigned)seconds + 30);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);

    int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lst < 0) die("socket");
    int one = 1;
    setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(lst, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(lst, 65535) < 0) die("listen");
    if (getsockname(lst, (struct sockaddr *)&a, &alen) < 0) die("getsockname");
    int port = ntohs(a.sin_port);

    int fds[2];
    if (pipe(fds) < 0) die("pipe");
    double t0 = now_s(), deadline = t0 + seconds;
    pid_t kids[16];
    for (int i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            close(fds[0]);
            close(lst);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            struct tally t = worker(port, rate / workers, deadline, spread, rst_fraction, i);
            if (write(fds[1], &t, sizeof t) != (ssize_t)sizeof t) _exit(1);
            _exit(0);
        }
        kids[i] = pid;
    }
    close(fds[1]);
    printf("{\"ready\": true, \"kind\": \"churn\", \"pid\": %d, \"port\": %d, \"rate\": %.0f, "
           "\"seconds\": %.3f}\n", (int)getpid(), port, rate, seconds);
    fflush(stdout);
    acceptor(lst, deadline);
    struct tally sum = {0, 0}, t;
    while (read(fds[0], &t, sizeof t) == (ssize_t)sizeof t) {
        sum.done += t.done;
        sum.errors += t.errors;
    }
    for (int i = 0; i < workers; i++) {
        if (stop) kill(kids[i], SIGTERM);
        waitpid(kids[i], NULL, 0);
    }
    close(lst);
    double secs = now_s() - t0;
    printf("{\"done\": true, \"connections\": %ld, \"errors\": %ld, \"seconds\": %.3f, "
           "\"rate\": %.1f}\n", sum.done, sum.errors, secs, sum.done / seconds);
    return stop ? 1 : 0;
}
