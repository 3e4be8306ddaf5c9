// npu_dram_model: behavioural DRAM for simulation (not synthesizable), the same timing model as
// the SystemC DramTarget: one channel, requests served first come first served; a burst of
// `len` bytes holds the channel for ceil(len / beat) cycles (beat = DRAM bytes per cycle) and
// its data (reads) or its response (writes) come `latency` cycles later. Storage is the
// driver's DRAM buffer, reached through DPI-C.
module npu_dram_model #(
    parameter int BUS = 64,     // beat width in bytes
    parameter int QD = 64,      // request queue entries
    parameter int DQ = 256      // bursts between channel and delivery (latency pipeline)
) (
    input  logic              clk,
    input  logic              rst,
    input  logic [15:0]       cfg_beat_bytes,
    input  logic [31:0]       cfg_latency,
    input  logic              freeze,      // test hook: the DRAM stops responding
    input  logic              ar_valid,
    output logic              ar_ready,
    input  logic [31:0]       ar_addr,
    input  logic [15:0]       ar_len,
    output logic              r_valid,
    input  logic              r_ready,
    output logic [8*BUS-1:0]  r_data,
    output logic [15:0]       r_bytes,
    input  logic              aw_valid,
    output logic              aw_ready,
    input  logic [31:0]       aw_addr,
    input  logic [15:0]       aw_len,
    input  logic              w_valid,
    output logic              w_ready,
    input  logic [8*BUS-1:0]  w_data,
    input  logic [15:0]       w_bytes,
    input  logic [BUS-1:0]    w_strb,      // byte enables: a disabled byte keeps its value
    output logic              b_valid,
    // Status for the simulator's stall report: requests waiting for the channel, read bursts
    // on the channel or not yet delivered, write bursts on the channel or not yet answered,
    // and the cycle of the last data beat either way.
    output logic [15:0]       st_queue,
    output logic [15:0]       st_reads,
    output logic [15:0]       st_writes,
    output logic [63:0]       st_last_beat
);
  import "DPI-C" function void npu_dram_read(input int unsigned addr, input int unsigned nbytes,
                                             output bit [1023:0] data);
  import "DPI-C" function void npu_dram_write(input int unsigned addr, input int unsigned nbytes,
                                              input bit [1023:0] data, input bit [127:0] strb);

  logic [63:0] now, busy_until, lat;
  // Request queue.
  logic q_wr[QD];
  logic [31:0] q_addr[QD];
  logic [15:0] q_len[QD];
  logic [$clog2(QD)-1:0] q_rp, q_wp;
  logic [$clog2(QD):0] q_count;
  logic prio_aw;
  // Reads between the channel and the R port.
  logic [31:0] d_addr[DQ];
  logic [15:0] d_rem[DQ];
  logic [63:0] d_time[DQ];
  logic [$clog2(DQ)-1:0] d_rp, d_wp;
  logic [$clog2(DQ):0] d_count;
  // Write responses.
  logic [63:0] b_time[DQ];
  logic [$clog2(DQ)-1:0] b_rp, b_wp;
  logic [$clog2(DQ):0] b_count;
  // The write burst on the channel.
  logic wr_active;
  logic [31:0] wr_addr;
  logic [15:0] wr_rem;

  assign lat = cfg_latency == 0 ? 64'd1 : 64'(cfg_latency);
  assign st_queue = 16'(q_count);
  assign st_reads = 16'(d_count);
  assign st_writes = 16'(b_count) + (wr_active ? 16'd1 : 16'd0);
  assign ar_ready = !freeze && 32'(q_count) < QD && (!aw_valid || !prio_aw);
  assign aw_ready = !freeze && 32'(q_count) < QD && (!ar_valid || prio_aw);
  assign w_ready = !freeze && wr_active;

  always_ff @(posedge clk) begin
    if (rst) begin
      now <= '0;
      busy_until <= '0;
      q_rp <= '0;
      q_wp <= '0;
      q_count <= '0;
      prio_aw <= 1'b0;
      d_rp <= '0;
      d_wp <= '0;
      d_count <= '0;
      b_rp <= '0;
      b_wp <= '0;
      b_count <= '0;
      wr_active <= 1'b0;
      r_valid <= 1'b0;
      b_valid <= 1'b0;
      st_last_beat <= '0;
    end else if (!freeze) begin
      logic [$clog2(QD):0] qc;
      logic [$clog2(DQ):0] dc, bc;
      qc = q_count;
      dc = d_count;
      bc = b_count;
      now <= now + 1;
      if (r_valid && r_ready || w_valid && w_ready) st_last_beat <= now;
      // Accept one request.
      if (ar_valid && ar_ready || aw_valid && aw_ready) begin
        q_wr[q_wp] <= aw_valid && aw_ready;
        q_addr[q_wp] <= aw_valid && aw_ready ? aw_addr : ar_addr;
        q_len[q_wp] <= aw_valid && aw_ready ? aw_len : ar_len;
        q_wp <= q_wp + 1;
        qc = qc + 1;
        prio_aw <= !(aw_valid && aw_ready);
      end
      // Start the oldest request when the channel is free.
      if (!wr_active && now >= busy_until && q_count != 0 &&
          (q_wr[q_rp] || 32'(d_count) < DQ)) begin
        q_rp <= q_rp + 1;
        qc = qc - 1;
        if (q_wr[q_rp]) begin
          wr_active <= 1'b1;
          wr_addr <= q_addr[q_rp];
          wr_rem <= q_len[q_rp];
        end else begin
          d_addr[d_wp] <= q_addr[q_rp];
          d_rem[d_wp] <= q_len[q_rp];
          d_time[d_wp] <= now + lat;
          d_wp <= d_wp + 1;
          dc = dc + 1;
          busy_until <= now + (64'(q_len[q_rp]) + 64'(cfg_beat_bytes) - 1) / 64'(cfg_beat_bytes);
        end
      end
      // Write beats.
      if (w_valid && w_ready) begin
        npu_dram_write(wr_addr, 32'(w_bytes), 1024'(w_data), 128'(w_strb));
        wr_addr <= wr_addr + 32'(w_bytes);
        wr_rem <= wr_rem - w_bytes;
        if (wr_rem == w_bytes) begin
          wr_active <= 1'b0;
          busy_until <= now + 1;
          b_time[b_wp] <= now + 1 + lat;
          b_wp <= b_wp + 1;
          bc = bc + 1;
        end
      end
      // Read beats: the R register holds one beat until it is taken.
      if (!r_valid || r_ready) begin
        if (d_count != 0 && now + 1 >= d_time[d_rp]) begin
          logic [15:0] nb;
          /* verilator lint_off UNUSEDSIGNAL */
          logic [1023:0] data;  // the DPI port is 128 bytes wide, the beat BUS bytes
          /* verilator lint_on UNUSEDSIGNAL */
          nb = d_rem[d_rp] < cfg_beat_bytes ? d_rem[d_rp] : cfg_beat_bytes;
          npu_dram_read(d_addr[d_rp], 32'(nb), data);
          r_data <= data[8*BUS-1:0];
          r_bytes <= nb;
          r_valid <= 1'b1;
          d_addr[d_rp] <= d_addr[d_rp] + 32'(nb);
          d_rem[d_rp] <= d_rem[d_rp] - nb;
          if (d_rem[d_rp] == nb) begin
            d_rp <= d_rp + 1;
            dc = dc - 1;
          end
        end else r_valid <= 1'b0;
      end
      // Write responses.
      if (b_count != 0 && now + 1 >= b_time[b_rp]) begin
        b_valid <= 1'b1;
        b_rp <= b_rp + 1;
        bc = bc - 1;
      end else b_valid <= 1'b0;
      q_count <= qc;
      d_count <= dc;
      b_count <= bc;
    end
  end
endmodule
