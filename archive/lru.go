package archive

// lruList is an intrusive doubly linked list, most recently used first:
// elements carry their own links, so moving one to the front allocates
// nothing. The flight recorder orders its flows with it.
type lruList[P lruNode[P]] struct {
	head, tail P
}

// lruNode is a pointer to an element with links.
type lruNode[P any] interface {
	comparable
	lru() *lruLinks[P]
}

type lruLinks[P any] struct{ prev, next P }

func (l *lruList[P]) pushFront(e P) {
	var none P
	lk := e.lru()
	lk.prev, lk.next = none, l.head
	if l.head != none {
		l.head.lru().prev = e
	} else {
		l.tail = e
	}
	l.head = e
}

func (l *lruList[P]) remove(e P) {
	var none P
	lk := e.lru()
	if lk.prev != none {
		lk.prev.lru().next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != none {
		lk.next.lru().prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	lk.prev, lk.next = none, none
}

// touch moves e, already in the list, to the front.
func (l *lruList[P]) touch(e P) {
	if l.head != e {
		l.remove(e)
		l.pushFront(e)
	}
}
