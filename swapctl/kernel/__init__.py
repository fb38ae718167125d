"""The kernel's rules, as pure functions and tables: no I/O here. What the kernel accepts, computes and prints,
each with the source it was read from (docs/KERNEL.md). Only core/ lies beneath this package."""
