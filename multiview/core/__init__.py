"""The ground floor: errors, atomic io, paths, caches, contracts and trust of run folders."""
