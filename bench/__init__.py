"""`make bench`: the platform's overhead, throughput and memory next to the anchors'."""
