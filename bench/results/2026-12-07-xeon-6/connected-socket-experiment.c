// Throwaway experiment (BENCHMARKS.md): sender CPU per datagram to N receivers, one sendmsg each, by how the sender
// addresses them. Modes: 0 dual-stack socket, v4-mapped destination, IPV6_PKTINFO padded to 40 bytes (before 7d9327b);
// 1 the same at 36 bytes (after); 2 an IPv4 socket, no control message; 3 a connected IPv4 socket per receiver, send();
// 4 an IPv4 socket with IP_PKTINFO (32 bytes); 5 the dual-stack socket, v4-mapped destination, no control message.
// Build: gcc -O2 -o cx connected-socket-experiment.c -lpthread; run: ./cx 500 MODE SECONDS.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
static int N, mode, secs; static volatile int stop;
static int *rfds, *cfds; static struct sockaddr_in *dst; static struct sockaddr_in6 *dst6; static long rx;
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);pthread_setaffinity_np(pthread_self(),sizeof s,&s);}
static double tcpu(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec/1e9;}
static void *recvr(void*a){pin(1);int ep=epoll_create1(0);
 for(int i=0;i<N;i++){struct epoll_event e={.events=EPOLLIN,.data.u32=i};epoll_ctl(ep,EPOLL_CTL_ADD,rfds[i],&e);}
 static char buf[32][2048];struct mmsghdr m[32];struct iovec v[32];
 for(int i=0;i<32;i++){v[i].iov_base=buf[i];v[i].iov_len=2048;memset(&m[i],0,sizeof m[i]);m[i].msg_hdr.msg_iov=&v[i];m[i].msg_hdr.msg_iovlen=1;}
 struct epoll_event ev[64];
 while(!stop){int n=epoll_wait(ep,ev,64,20);for(int i=0;i<n;i++){int fd=rfds[ev[i].data.u32];int r;while((r=recvmmsg(fd,m,32,MSG_DONTWAIT,0))>0)rx+=r;}}
 return 0;}
int main(int c,char**v){N=atoi(v[1]);mode=atoi(v[2]);secs=atoi(v[3]);int len=1200;
 rfds=calloc(N,sizeof(int));cfds=calloc(N,sizeof(int));dst=calloc(N,sizeof *dst);dst6=calloc(N,sizeof *dst6);
 for(int i=0;i<N;i++){rfds[i]=socket(AF_INET,SOCK_DGRAM|SOCK_NONBLOCK,0);int b=1<<20;setsockopt(rfds[i],SOL_SOCKET,SO_RCVBUFFORCE,&b,sizeof b);
  struct sockaddr_in a={.sin_family=AF_INET};a.sin_addr.s_addr=htonl(0x7f000001);
  if(bind(rfds[i],(void*)&a,sizeof a)){perror("bind");return 1;}socklen_t l=sizeof a;getsockname(rfds[i],(void*)&a,&l);dst[i]=a;
  dst6[i].sin6_family=AF_INET6;dst6[i].sin6_port=a.sin_port;dst6[i].sin6_addr.s6_addr[10]=0xff;dst6[i].sin6_addr.s6_addr[11]=0xff;memcpy(&dst6[i].sin6_addr.s6_addr[12],&a.sin_addr,4);}
 int s=-1;
 if(mode<=1||mode==5){s=socket(AF_INET6,SOCK_DGRAM,0);int z=0;setsockopt(s,IPPROTO_IPV6,IPV6_V6ONLY,&z,sizeof z);struct sockaddr_in6 a={.sin6_family=AF_INET6};bind(s,(void*)&a,sizeof a);}
 else if(mode==2||mode==4){s=socket(AF_INET,SOCK_DGRAM,0);}
 else for(int i=0;i<N;i++){cfds[i]=socket(AF_INET,SOCK_DGRAM,0);if(connect(cfds[i],(void*)&dst[i],sizeof dst[i])){perror("connect");return 1;}}
 pthread_t t;pthread_create(&t,0,recvr,0);pin(0);
 static char pkt[1500];memset(pkt,1,sizeof pkt);
 union{char b[64];struct cmsghdr align;}ctl;memset(&ctl,0,sizeof ctl);
 struct cmsghdr *cm=(struct cmsghdr*)ctl.b;cm->cmsg_level=IPPROTO_IPV6;cm->cmsg_type=IPV6_PKTINFO;cm->cmsg_len=CMSG_LEN(sizeof(struct in6_pktinfo));
 struct in6_pktinfo *pi=(struct in6_pktinfo*)CMSG_DATA(cm);pi->ipi6_addr.s6_addr[10]=0xff;pi->ipi6_addr.s6_addr[11]=0xff;pi->ipi6_addr.s6_addr[12]=127;pi->ipi6_addr.s6_addr[15]=1;
 union{char b[64];struct cmsghdr align;}ctl4;memset(&ctl4,0,sizeof ctl4);
 struct cmsghdr *c4=(struct cmsghdr*)ctl4.b;c4->cmsg_level=IPPROTO_IP;c4->cmsg_type=IP_PKTINFO;c4->cmsg_len=CMSG_LEN(sizeof(struct in_pktinfo));
 ((struct in_pktinfo*)CMSG_DATA(c4))->ipi_spec_dst.s_addr=htonl(0x7f000001);
 long sent=0;struct timespec t0;clock_gettime(CLOCK_MONOTONIC,&t0);double c0=tcpu();
 double period=(double)N/110000.0;double next=0;
 for(;;){struct timespec now;clock_gettime(CLOCK_MONOTONIC,&now);double el=now.tv_sec-t0.tv_sec+(now.tv_nsec-t0.tv_nsec)/1e9;if(el>secs)break;
  if(el<next){struct timespec d={0,(long)((next-el)*1e9)};nanosleep(&d,0);continue;}next+=period;
  for(int i=0;i<N;i++){struct iovec io={pkt,len};struct msghdr m={0};m.msg_iov=&io;m.msg_iovlen=1;int r;
   if(mode<=1){m.msg_name=&dst6[i];m.msg_namelen=sizeof dst6[i];m.msg_control=ctl.b;m.msg_controllen=mode==0?CMSG_SPACE(sizeof(struct in6_pktinfo)):CMSG_LEN(sizeof(struct in6_pktinfo));r=sendmsg(s,&m,0);}
   else if(mode==2){m.msg_name=&dst[i];m.msg_namelen=sizeof dst[i];r=sendmsg(s,&m,0);}
   else if(mode==4){m.msg_name=&dst[i];m.msg_namelen=sizeof dst[i];m.msg_control=ctl4.b;m.msg_controllen=CMSG_SPACE(sizeof(struct in_pktinfo));r=sendmsg(s,&m,0);}
   else if(mode==5){m.msg_name=&dst6[i];m.msg_namelen=sizeof dst6[i];r=sendmsg(s,&m,0);}
   else r=sendmsg(cfds[i],&m,0);
   if(r>0)sent++;}}
 double c1=tcpu();usleep(200000);stop=1;pthread_join(t,0);
 printf("N=%d mode=%d sent=%ld rx=%ld sender %.3f us/datagram\n",N,mode,sent,rx,(c1-c0)*1e6/sent);}
