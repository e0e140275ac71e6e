// What pages offer to choose from: the skill catalogue and the org-unit tree, read page by
// page from their connections (100 at a time, the API's cap).

const SKILLS = `query Skills($after: String) {
  skills(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id name category label { zh en } } }
  }
}`;
const UNITS = `query Units($after: String) {
  orgUnits(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id name parent { id } } }
  }
}`;

/** Every page of a connection (skills, units), for choosing from. */
async function allNodes(ctx, document, field, pages = 10) {
  const nodes = [];
  let after = null;
  for (let page = 0; page < pages; page += 1) {
    const data = await ctx.query(document, { after });
    nodes.push(...data[field].edges.map((edge) => edge.node));
    if (!data[field].pageInfo.hasNextPage) break;
    after = data[field].pageInfo.endCursor;
  }
  return nodes;
}

/** Org units as [id, "indented name"] in tree order. */
export function unitOptions(units) {
  const children = new Map();
  for (const unit of units) {
    const parent = unit.parent ? unit.parent.id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(unit);
  }
  const known = new Set(units.map((unit) => unit.id));
  const options = [];
  const walk = (parent, depth) => {
    for (const unit of (children.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name))) {
      options.push([unit.id, `${"\u00a0\u00a0".repeat(depth)}${unit.name}`]);
      walk(unit.id, depth + 1);
    }
  };
  walk(null, 0);
  // Units whose parent is out of the list still appear, at the top level.
  for (const [parent] of children) {
    if (parent !== null && !known.has(parent)) walk(parent, 0);
  }
  return options;
}


export function allSkills(ctx) {
  return allNodes(ctx, SKILLS, "skills");
}

export function allUnits(ctx) {
  return allNodes(ctx, UNITS, "orgUnits");
}
