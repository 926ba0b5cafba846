import { describe, expect, it } from "vitest";
import { closeAction, describeClose } from "../src/connection";

describe("closeAction", () => {
  it("maps every documented close code", () => {
    expect(closeAction(1000)).toBe("retry");
    expect(closeAction(1006)).toBe("retry");
    expect(closeAction(1011)).toBe("retry");
    expect(closeAction(1012)).toBe("retry");
    expect(closeAction(4408)).toBe("retry");
    expect(closeAction(4409)).toBe("retry");
    expect(closeAction(4000)).toBe("replaced");
    expect(closeAction(4401)).toBe("unauthorized");
    expect(closeAction(4403)).toBe("revoked");
    expect(closeAction(4413)).toBe("too-large");
    expect(closeAction(1009)).toBe("too-large");
    expect(closeAction(4400)).toBe("resync");
    expect(closeAction(4422)).toBe("resync");
  });

  it("prefers the server's reason", () => {
    expect(describeClose(1012, "server restarting")).toBe("server restarting");
    expect(describeClose(1006, "")).toBe("connection lost");
  });
});
