// A host as the MCP TypeScript SDK builds one: its stdio client launches the command given as JSON in argv[2]
// ({"command", "args", "env", "cwd"}), handshakes, lists tools, calls each {"name", "arguments"} of argv[3] (8 at
// once), answers elicitation and sampling requests, and prints one JSON line with what it got. Errors of a call are
// reported in its place, not thrown: a test checks them.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const launch = JSON.parse(process.argv[2]);
const calls = JSON.parse(process.argv[3] ?? "[]");

const transport = new StdioClientTransport({ ...launch, stderr: "inherit" });
const client = new Client(
  { name: "ts-host", version: "1.0.0" },
  { capabilities: { elicitation: {}, sampling: {} } },
);
client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { answer: "forty-two" } }));
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: "assistant",
  content: { type: "text", text: "Paris" },
  model: "ts-host-model",
}));

await client.connect(transport);
const tools = await client.listTools();
const results = await Promise.all(
  calls.map(async (call) => {
    try {
      return await client.callTool(call);
    } catch (error) {
      return { thrown: String(error?.message ?? error) };
    }
  }),
);
process.stdout.write(
  JSON.stringify({
    protocolVersion: transport.protocolVersion ?? null,
    instructions: client.getInstructions() ?? null,
    tools: tools.tools.map((tool) => tool.name),
    results,
  }) + "\n",
);
await client.close();
