// Connection deadlines in O(1). Every entry of one list has the same
// timeout, so appending at now + timeout keeps the list sorted: the head is
// the next to expire, and moving an entry is an unlink and an append (no
// heap, no allocation). An entry is in at most one list.
#pragma once
#include <stdint.h>

namespace engine {

struct DeadlineList;

struct DeadlineNode {
  DeadlineNode* prev = nullptr;
  DeadlineNode* next = nullptr;
  DeadlineList* list = nullptr;  // the list the node is in, or nullptr
  int64_t deadline = 0;          // ms, on the caller's monotonic clock
};

struct DeadlineList {
  int timeout_ms = 0;
  DeadlineNode* head = nullptr;
  DeadlineNode* tail = nullptr;

  // Appends n with deadline now + timeout_ms, taking it out of its list first.
  void Push(DeadlineNode* n, int64_t now) {
    Unlink(n);
    n->deadline = now + timeout_ms;
    n->list = this;
    n->prev = tail;
    n->next = nullptr;
    if (tail) tail->next = n;
    else head = n;
    tail = n;
  }

  // Takes n out of whatever list holds it (no-op when none).
  static void Unlink(DeadlineNode* n) {
    DeadlineList* l = n->list;
    if (!l) return;
    if (n->prev) n->prev->next = n->next;
    else l->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else l->tail = n->prev;
    n->prev = n->next = nullptr;
    n->list = nullptr;
  }

  // Returns the head when its deadline is at or before now, else nullptr.
  DeadlineNode* Expired(int64_t now) const { return head && head->deadline <= now ? head : nullptr; }
};

}  // namespace engine
