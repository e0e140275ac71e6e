"""GraphQL of the dashboards: the R&D, school and personal views, each a root field whose
panels are fields computed only when asked for."""
