; example.com: the zone Meridian serves on its embedded default configuration.
; Try: dig @127.0.0.1 -p 1053 +norec www.example.com A
$ORIGIN example.com.
$TTL 3600
@       IN  SOA ns1.example.com. hostmaster.example.com. (
                2026112301 ; serial
                7200       ; refresh
                3600       ; retry
                1209600    ; expire
                300 )      ; minimum: negative answers are cached this long (RFC 2308)
        IN  NS    ns1
        IN  NS    ns2
        IN  MX    10 mail
        IN  TXT   "v=spf1 mx -all"
        IN  CAA   0 issue "letsencrypt.org"
        IN  A     192.0.2.1
        IN  AAAA  2001:db8::1
ns1     IN  A     192.0.2.53
        IN  AAAA  2001:db8::53
ns2     IN  A     198.51.100.53
mail    IN  A     192.0.2.25
; www is a geo pool (see src/config/default.toml): its A and AAAA answers come from Meridian.
api     IN  CNAME www
docs    IN  CNAME docs.example.net.
_sip._tcp IN SRV  10 60 5060 sip
sip     IN  A     192.0.2.60
*.apps  IN  A     192.0.2.80
; A delegation, with glue and the DS the child publishes.
sub     IN  NS    ns.sub
sub     IN  DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub  IN  A     192.0.2.200
; An empty non-terminal: b.internal exists only as the parent of a.b.internal.
a.b.internal IN TXT "deep"
