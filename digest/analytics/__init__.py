"""Click statistics, privacy first: which links of a sent edition readers follow, counted per link
(and per delivery only when an operator turns `analytics.per_subscriber` on). No open pixel.

`links` rewrites an edition's links once when it is frozen; `clicks` stores them and counts a click;
`prefetch` tells a person's click from a scanner's or a browser's prefetch."""
