package generate

// Identifiers (event ids, order ids, customer, anonymous and device ids) are
// derived from the seed and a counter or a person's index through fmix64, a
// bijection on 64 bits: for one seed, distinct counters give distinct ids by
// construction, with no set of seen ids to keep.

const golden = 0x9e3779b97f4a7c15

// fmix64 is MurmurHash3's 64-bit finaliser, a bijection with good avalanche.
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// keys are the per-seed constants that make every identifier depend on the
// seed.
type keys struct {
	event, event2      uint64
	order              uint64
	customer           uint64
	anon, anon2        uint64
	device, device2    uint64
	person, personSeed uint64
	spend, spendSeed   uint64
}

func newKeys(seed int64) keys {
	s := uint64(seed)
	k := func(i uint64) uint64 { return fmix64(s ^ fmix64(i*golden)) }
	return keys{
		event: k(1), event2: k(2), order: k(3), customer: k(4),
		anon: k(5), anon2: k(6), device: k(7), device2: k(8),
		person: k(9), personSeed: k(10), spend: k(11), spendSeed: k(12),
	}
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

func putHex(dst []byte, v uint64, digits string) {
	for i := 15; i >= 0; i-- {
		dst[i] = digits[v&15]
		v >>= 4
	}
}

// hex128 formats a and b as 32 lower-case hex digits.
func hex128(a, b uint64) string {
	var buf [32]byte
	putHex(buf[:16], a, lowerHex)
	putHex(buf[16:], b, lowerHex)
	return string(buf[:])
}

// prefixedHex64 formats prefix followed by the 16 hex digits of v.
func prefixedHex64(prefix string, v uint64, digits string) string {
	buf := make([]byte, len(prefix)+16)
	copy(buf, prefix)
	putHex(buf[len(prefix):], v, digits)
	return string(buf)
}

// uuidString formats a and b in the 8-4-4-4-12 form of a UUID. The first 64
// bits are a verbatim, so a unique a gives a unique string.
func uuidString(a, b uint64, digits string) string {
	var h [32]byte
	putHex(h[:16], a, digits)
	putHex(h[16:], b, digits)
	var u [36]byte
	copy(u[0:8], h[0:8])
	u[8] = '-'
	copy(u[9:13], h[8:12])
	u[13] = '-'
	copy(u[14:18], h[12:16])
	u[18] = '-'
	copy(u[19:23], h[16:20])
	u[23] = '-'
	copy(u[24:36], h[20:32])
	return string(u[:])
}

// eventID returns the id of the n-th touchpoint of a run: 16 bytes as 32 hex
// digits, unique per seed because its first half is a bijection of n.
func (k *keys) eventID(n uint64) string {
	a := fmix64(n ^ k.event)
	return hex128(a, fmix64(a^k.event2))
}

// orderID returns the id of the n-th order of a run, unique per seed.
func (k *keys) orderID(prefix string, n uint64) string {
	return prefixedHex64(prefix, fmix64(n^k.order), upperHex)
}
