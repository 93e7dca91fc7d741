"""Knowledge products: courses, files and e-books, consultations, memberships, tickets, replays, plain items."""
