/* The README's C quick start: a backpressure ring, one writer, one reader. */
#include <stdio.h>
#include <string.h>

#include "rusted_ring.h"

int main(void)
{
    rr_config cfg = { .slot_size = 64, .capacity = 2000,
                      .mode = RR_MODE_BACKPRESSURE, .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    if (rr_ring_create(&cfg, &ring) != RR_OK) {
        fprintf(stderr, "create: %s\n", rr_last_error());
        return 1;
    }
    rr_writer *w;
    rr_reader *r;
    rr_writer_open(ring, &w);
    rr_reader_open(ring, RR_START_OLDEST, &r);

    const char *strokes[] = { "stroke 1", "stroke 2", "cursor 40,2" };
    for (int i = 0; i < 3; i++)
        rr_writer_add(w, strokes[i], strlen(strokes[i]), 7, NULL, RR_FOREVER);

    char big[65] = { 0 };
    rr_status st = rr_writer_add(w, big, sizeof big, 7, NULL, 0);   /* too large: refused */
    printf("oversized add: %s (%s)\n", rr_strerror(st), rr_last_error());

    rr_event ev;
    while (rr_reader_next(r, &ev, 0) == RR_OK)
        printf("event %llu type %u: %.*s\n", (unsigned long long)ev.sequence,
               ev.event_type, (int)ev.len, (const char *)ev.data);

    rr_ring_close(ring);
    printf("after close: %s\n", rr_strerror(rr_reader_next(r, &ev, 0)));
    rr_reader_close(r);
    rr_writer_close(w);
    return rr_ring_destroy(ring) == RR_OK ? 0 : 1;
}
